"""Roles and what they may do: the permission matrix, as data.

A permission is granted *within the region* of the role assignment that carries it; the scope mechanism
(``shanzhi.core.scope``) turns a user's assignments into region prefixes per permission.  Code never asks
``if role == …``: it asks for a permission.  Domain apps add their permissions by extending ``MATRIX`` in
this one file, so the whole matrix can be read (and reviewed) in one place.
"""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from shanzhi.core.codes import Level


class Role(StrEnum):
    CITY_ADMIN = "city_admin"
    COUNTY_ADMIN = "county_admin"
    TOWN_ADMIN = "town_admin"
    VILLAGE_ADMIN = "village_admin"
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    GRID_WORKER = "grid_worker"
    VILLAGE_CADRE = "village_cadre"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    RESIDENT = "resident"


ROLE_LABELS = {
    Role.CITY_ADMIN: _("city administrator"),
    Role.COUNTY_ADMIN: _("county administrator"),
    Role.TOWN_ADMIN: _("town administrator"),
    Role.VILLAGE_ADMIN: _("village administrator"),
    Role.DISPATCHER: _("centre dispatcher"),
    Role.HANDLER: _("handler (department staff)"),
    Role.GRID_WORKER: _("grid worker"),
    Role.VILLAGE_CADRE: _("village cadre"),
    Role.SUPERVISOR: _("supervisory committee member"),
    Role.AUDITOR: _("auditor (read-only)"),
    Role.RESIDENT: _("resident"),
}

# Administrator roles are tied to the level of the region they are given at.
ROLE_LEVEL = {
    Role.CITY_ADMIN: Level.CITY,
    Role.COUNTY_ADMIN: Level.COUNTY,
    Role.TOWN_ADMIN: Level.TOWN,
    Role.VILLAGE_ADMIN: Level.VILLAGE,
    Role.GRID_WORKER: Level.VILLAGE,
    Role.VILLAGE_CADRE: Level.VILLAGE,
    Role.SUPERVISOR: Level.VILLAGE,
    Role.RESIDENT: Level.VILLAGE,
}

# Permissions (app.verb).  Keep this list and the matrix below in step; tests check every permission used
# by a selector or service is listed here.
PERMISSIONS = {
    "regions.view": _("view regions, grids and centres"),
    "regions.change": _("create and change regions, grids and centres; import them"),
    "people.view": _("view real-name base data (masked)"),
    "people.change": _("create and change real-name base data"),
    "people.unmask": _("see personal data unmasked (asks for a reason, audited)"),
    "people.import": _("import real-name base data"),
    "people.export": _("export real-name base data (masked)"),
    "accounts.view": _("view user accounts"),
    "accounts.change": _("create and change user accounts and their roles"),
    "audit.view": _("read the audit log"),
    "portal.self": _("see and correct one's own personal data"),
    "events.view": _("view events"),
    "events.report": _("report events"),
    "events.dispatch": _("accept, dispatch, escalate, close events at a centre"),
    "events.handle": _("handle dispatched events"),
    "events.verify": _("verify handled events on site"),
    "events.supervise": _("supervise events of lower levels (督办)"),
    "events.void": _("void events"),
    "events.rate": _("rate one's own reported events"),
    "events.configure": _("edit event categories, deadlines and the working calendar"),
    "events.stats": _("see event statistics"),
    "devices.view": _("view devices, channels and their health"),
    "devices.change": _("register, change, import and distribute devices"),
    "devices.checkpoint_search": _("search checkpoint pass records by plate (audited)"),
    "alerts.view": _("view alerts and the alert wall"),
    "alerts.handle": _("acknowledge alerts, silence them, turn them into events"),
    "alerts.configure": _("edit alert rules, inhibitions and scenario packs"),
    "affairs.view": _("view village decisions, meetings, disclosures and ledgers"),
    "affairs.manage": _("run the decision procedure, meetings, votes and disclosures"),
    "affairs.finance": _("keep the village ledger"),
    "affairs.supervise": _("add supervisory opinions and sign records (村监会)"),
    "affairs.moderate": _("moderate residents' comments"),
    "portal.vote": _("take part in votes held on the portal"),
    "portal.comment": _("comment on plans under publication"),
}

_ADMIN = {
    "regions.view", "regions.change",
    "people.view", "people.change", "people.unmask", "people.import", "people.export",
    "accounts.view", "accounts.change", "audit.view",
    "events.view", "events.report", "events.dispatch", "events.supervise", "events.void", "events.configure",
    "events.stats",
    "devices.view", "devices.change", "alerts.view", "alerts.handle", "alerts.configure",
    "affairs.view", "affairs.manage", "affairs.moderate",
}
_EVENTS_DESK = {"events.view", "events.report", "events.dispatch", "events.verify", "events.supervise",
                "events.void", "events.stats"}

MATRIX: dict[Role, frozenset[str]] = {
    Role.CITY_ADMIN: frozenset(_ADMIN),
    Role.COUNTY_ADMIN: frozenset(_ADMIN),
    Role.TOWN_ADMIN: frozenset(_ADMIN),
    Role.VILLAGE_ADMIN: frozenset(_ADMIN),
    Role.DISPATCHER: frozenset({"regions.view", "people.view", "devices.view", "alerts.view", "alerts.handle",
                                "affairs.view"} | _EVENTS_DESK),
    Role.HANDLER: frozenset({"regions.view", "people.view", "events.view", "events.handle", "devices.view",
                             "devices.checkpoint_search", "alerts.view", "alerts.handle"}),
    Role.GRID_WORKER: frozenset({"regions.view", "people.view", "people.change", "people.unmask",
                                 "events.view", "events.report", "events.handle", "events.verify",
                                 "devices.view", "alerts.view", "alerts.handle", "affairs.view"}),
    Role.VILLAGE_CADRE: frozenset({"regions.view", "people.view", "people.export",
                                   "events.view", "events.report", "events.stats", "alerts.view",
                                   "affairs.view", "affairs.manage", "affairs.finance"}),
    Role.SUPERVISOR: frozenset({"regions.view", "audit.view", "events.view", "events.stats",
                                "affairs.view", "affairs.supervise"}),
    Role.AUDITOR: frozenset({"regions.view", "people.view", "accounts.view", "audit.view",
                             "events.view", "events.stats", "devices.view", "alerts.view", "affairs.view"}),
    Role.RESIDENT: frozenset({"portal.self", "portal.vote", "portal.comment", "events.report", "events.rate"}),
}

OFFICIAL_ROLES = frozenset(r for r in Role if r is not Role.RESIDENT)


def grants(role: str, permission: str) -> bool:
    try:
        return permission in MATRIX[Role(role)]
    except ValueError:
        return False
