"""Every write of the scenario packs: sync (categories and rules from the pack files), enabling a pack for a region,
and the rule-driven conversion of pack alerts into events.

How a pack's rules are confined to the regions where it is enabled: ``sync`` stores each rule once as a disabled
*template* (``AlertRule`` with ``pack=<code>`` and no region prefix); enabling the pack for a region creates an
enabled copy of every template named ``<rule>-<region prefix>`` whose ``region_prefix`` is that region's scope
prefix — the alert engine's own region filter (``AlertRule.region_prefix``, used by the reading/alarm evaluation,
the absence check, the weather signals and the event counts alike) then does the rest.  An activation under a
region where the pack is already enabled adds no copy (no double alerts); disabling a region disables its copies
and resolves their alerts.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from shanzhi.alerts.engine import Resolution, get_engine
from shanzhi.alerts.handling import UpsertResult, active_q, upsert
from shanzhi.alerts.models import Alert, AlertRule, AlertStatus
from shanzhi.core import audit
from shanzhi.core.codes import CodeError, level_of, normalize, prefix_of
from shanzhi.core.errors import Conflict, NotFound, ShanzhiError, ValidationFailed
from shanzhi.core.scope import require_scope
from shanzhi.events.models import Category
from shanzhi.regions.models import DepartmentType, Region

from .loader import Pack, packs
from .models import InstalledPack, PackActivation

log = logging.getLogger("shanzhi.scenarios")

RULE_FIELDS = ("title", "kind", "parameters", "severity", "for_seconds", "annotations")


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def _rule_labels(pack_code: str, rule: dict[str, Any]) -> dict[str, str]:
    return {**rule["labels"], "pack": pack_code, "scenario_rule": rule["name"]}


def copy_name(base: str, prefix: str) -> str:
    return f"{base}-{prefix}"


def sync_pack(*, actor: Any, pack: Pack) -> str:
    """Create or update one pack's categories and rules; returns "created", "updated" or "unchanged".

    Raises Conflict for a lower version than the installed one, or for changed content under the same version.
    """
    with transaction.atomic():
        installed = InstalledPack.objects.select_for_update().filter(code=pack.code).first()
        if installed is not None:
            if pack.version < installed.version:
                raise Conflict(f"pack {pack.code}: version {pack.version} is lower than the installed version "
                               f"{installed.version}; a downgrade is refused",
                               detail={"version": pack.version, "installed": installed.version})
            if pack.version == installed.version:
                if pack.digest == installed.digest:
                    return "unchanged"
                raise Conflict(f"pack {pack.code}: the content changed but the version is still {pack.version}; "
                               f"bump the version", detail={"version": pack.version})
        names = [r["name"] for r in pack.rules]
        foreign = sorted(AlertRule.objects.filter(name__in=names)
                         .exclude(pack=pack.code, labels__has_key="scenario_rule").values_list("name", flat=True))
        if foreign:
            raise Conflict(f"pack {pack.code}: rules named {', '.join(foreign)} exist and are not this pack's",
                           detail={"rules": foreign})
        departments = {d.code: d for d in DepartmentType.objects.all()}
        parents = {c.code: c for c in Category.objects.filter(parent__isnull=True)}
        added: list[str] = []
        for index, cat in enumerate(pack.categories):
            department = None
            if cat["department"]:
                department = departments.get(cat["department"])
                if department is None:
                    raise ValidationFailed(str(pack.error(f"categories[{index}].department",
                                                          f"no department type {cat['department']!r}")))
            parent = parents.get(cat["parent"])
            if parent is None:
                if "parent_name" not in cat:
                    raise ValidationFailed(str(pack.error(f"categories[{index}].parent", "no such parent category")))
                parent = Category.objects.create(code=cat["parent"], name=cat["parent_name"],
                                                 name_en=cat.get("parent_name_en", ""), sort=9000 + index)
                parents[parent.code] = parent
                added.append(parent.code)
            flags = cat["flags"]
            Category.objects.update_or_create(code=cat["code"], defaults={
                "name": cat["name"], "name_en": cat["name_en"], "parent": parent, "min_level": cat["min_level"],
                "department_type": department, "allow_anonymous": flags["anonymous"], "is_dispute": flags["dispute"],
                "auto_escalate": flags["auto_escalate"], "may_skip_levels": flags["may_skip"],
                "deadlines": cat["deadlines"], "fields": pack.category_fields(cat["code"]), "active": True,
                "sort": parent.sort + index + 1 if parent.sort < 9000 else 9000 + index + 1})
            added.append(cat["code"])
        before = None
        if installed is not None:
            before = {"version": installed.version, "digest": installed.digest}
            dropped = set(installed.categories) - set(added)
            Category.objects.filter(code__in=dropped, parent__isnull=False).update(active=False)
        for rule in pack.rules:
            AlertRule.objects.update_or_create(name=rule["name"], defaults={
                **{k: rule[k] for k in RULE_FIELDS}, "labels": _rule_labels(pack.code, rule), "pack": pack.code,
                "region_prefix": "", "enabled": False})
        installed = installed or InstalledPack(code=pack.code)
        installed.version, installed.name, installed.name_en = pack.version, pack.name, pack.name_en
        installed.description, installed.categories = pack.description, added
        installed.rules, installed.forms, installed.panel = pack.rules, pack.forms, pack.panel
        installed.digest, installed.source, installed.synced_at = pack.digest, pack.path.name, timezone.now()
        created = installed.pk is None
        installed.save()
        _reconcile(installed, names, refresh=True)
        audit.record(actor=actor, action="scenarios.pack.sync", obj=installed, before=before,
                     after={"version": pack.version, "digest": pack.digest, "categories": added, "rules": names})
    transaction.on_commit(lambda: get_engine(force_reload=True))
    return "created" if created else "updated"


def sync_all(*, actor: Any, selected: dict[str, Pack] | None = None) -> SyncResult:
    """Sync every pack (each in its own transaction); refused packs are reported, the others still sync."""
    result = SyncResult()
    for code, pack in sorted((selected if selected is not None else packs()).items()):
        try:
            outcome = sync_pack(actor=actor, pack=pack)
        except ShanzhiError as exc:
            result.refused[code] = str(exc.message)
            continue
        getattr(result, outcome).append(code)
    return result


def _covering(codes: list[str]) -> list[str]:
    """The activations not inside another activation of the same pack."""
    prefixes = {code: prefix_of(code) for code in codes}
    return [c for c in codes if not any(o != c and c.startswith(prefixes[o]) for o in codes)]


def _resolve_alerts(rule_ids: list[int], now: dt.datetime) -> UpsertResult:
    items = [Resolution(fingerprint_=fp, labels={}, region_code=region, starts_at=now, ends_at=now,
                        rule_id=rule_id, subject=subject)
             for fp, region, rule_id, subject in Alert.objects.filter(active_q(now), rule_id__in=rule_ids)
             .values_list("fingerprint", "region_code", "rule_id", "subject")]
    return upsert(items, now=now)


def _reconcile(installed: InstalledPack, names: list[str] | None = None, *, refresh: bool = False) -> None:
    """Make the enabled rule copies match the activations of a pack (inside the caller's transaction)."""
    ours = AlertRule.objects.filter(pack=installed.code, labels__has_key="scenario_rule")  # not hand-made rules
    templates = {r.name: r for r in ours.filter(region_prefix="")}
    wanted_names = set(names if names is not None else [r["name"] for r in installed.rules])
    regions = list(installed.activations.values_list("region_code", flat=True))
    wanted = {copy_name(base, prefix_of(code)): (templates[base], prefix_of(code))
              for code in _covering(regions) for base in wanted_names if base in templates}
    copies = {r.name: r for r in ours.exclude(region_prefix="")}
    stale = [r.pk for name, r in copies.items() if r.enabled and name not in wanted]
    if stale:
        AlertRule.objects.filter(pk__in=stale).update(enabled=False, updated_at=timezone.now())
        _resolve_alerts(stale, timezone.now())
    for name, (template, prefix) in wanted.items():
        copy = copies.get(name)
        if copy is None:
            copy = AlertRule(name=name, pack=installed.code, region_prefix=prefix)
            refresh_this = True
        else:
            refresh_this = refresh or not copy.enabled
        if refresh_this:
            for attr in (*RULE_FIELDS, "labels"):
                setattr(copy, attr, getattr(template, attr))
            copy.enabled = True
            copy.save()
    # rules a new version dropped: their templates go too
    ours.filter(region_prefix="").exclude(name__in=wanted_names).delete()


def _region(region_code: str) -> Region:
    try:
        code = normalize(region_code)
        level_of(code)
    except CodeError as exc:
        raise ValidationFailed(detail={"region_code": str(exc)}) from None
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise NotFound("region")
    return region


def pack_enable(*, actor: Any, pack_code: str, region_code: str) -> PackActivation:
    """Enable a pack for a region in the actor's ``alerts.configure`` scope."""
    region = _region(region_code)
    require_scope(actor, "alerts.configure", region.code)
    with transaction.atomic():
        installed = InstalledPack.objects.select_for_update().filter(code=pack_code).first()
        if installed is None:
            raise NotFound("scenario pack")
        if installed.activations.filter(region_code=region.code).exists():
            raise Conflict("the pack is already enabled for this region")
        activation = PackActivation.objects.create(pack=installed, region_code=region.code, enabled_by=actor,
                                                   at=timezone.now())
        _reconcile(installed)
        audit.record(actor=actor, action="scenarios.pack.enable", obj=activation, region_code=region.code,
                     after={"pack": installed.code, "version": installed.version, "region_code": region.code})
    transaction.on_commit(lambda: get_engine(force_reload=True))
    return activation


def pack_disable(*, actor: Any, pack_code: str, region_code: str) -> None:
    """Disable a pack for a region (its rule copies there stop and their alerts resolve)."""
    region = _region(region_code)
    require_scope(actor, "alerts.configure", region.code)
    with transaction.atomic():
        installed = InstalledPack.objects.select_for_update().filter(code=pack_code).first()
        activation = installed.activations.filter(region_code=region.code).first() if installed else None
        if installed is None or activation is None:
            raise NotFound("pack activation")
        before = {"pack": installed.code, "region_code": region.code, "enabled_by": activation.enabled_by_id}
        audit.record(actor=actor, action="scenarios.pack.disable", obj=activation, region_code=region.code,
                     before=before)
        activation.delete()
        _reconcile(installed)
    transaction.on_commit(lambda: get_engine(force_reload=True))


# --- rule-driven conversion of alerts into events ----------------------------------------------------------
def _activation_for(pack_code: str, region_code: str, cache: dict[str, list[PackActivation]]) -> Any:
    if pack_code not in cache:
        cache[pack_code] = list(PackActivation.objects.filter(pack__code=pack_code).select_related("enabled_by")
                                .order_by("region_code"))
    for act in cache[pack_code]:
        if region_code.startswith(prefix_of(act.region_code)):
            return act
    return None


def convert_alerts(alerts: list[Alert]) -> list[Any]:
    """Turn the firing pack alerts whose rule says ``to_event`` into events (acting as whoever enabled the pack
    for the region, who answers for the conversion); returns the events created."""
    from shanzhi.alerts.services import alert_to_event

    candidates = [a for a in alerts if a.rule_id and a.event_id is None and a.status == AlertStatus.FIRING
                  and a.labels.get("pack") and a.labels.get("scenario_rule")]
    if not candidates:
        return []
    installed = {p.code: p for p in InstalledPack.objects.filter(code__in={a.labels["pack"] for a in candidates})}
    cache: dict[str, list[PackActivation]] = {}
    events = []
    for alert in candidates:
        pack = installed.get(alert.labels["pack"])
        rule = pack.rule(alert.labels["scenario_rule"]) if pack else None
        target = (rule or {}).get("to_event")
        if not target or (target["when"] == "critical" and alert.severity != "critical"):
            continue
        activation = _activation_for(pack.code, alert.region_code, cache)  # type: ignore[union-attr]
        if activation is None or activation.enabled_by is None:
            log.warning("alert %s of pack %s: nobody to act for in %s", alert.pk, alert.labels["pack"],
                        alert.region_code)
            continue
        try:
            events.append(alert_to_event(alert, activation.enabled_by, target["category"]))
        except ShanzhiError as exc:
            log.warning("alert %s of pack %s not turned into an event: %s", alert.pk, alert.labels["pack"], exc)
    return events


def after_feed(result: UpsertResult, now: dt.datetime) -> None:
    """Listener of :data:`shanzhi.alerts.engine.AFTER_FEED`."""
    convert_alerts(result.alerts)


def convert_pending(now: dt.datetime | None = None) -> list[Any]:
    """Convert the firing pack alerts not yet converted (those the periodic rules — event counts — raised)."""
    now = now or timezone.now()
    qs = Alert.objects.filter(active_q(now), ~Q(labels__pack=""), labels__has_key="scenario_rule",
                              status=AlertStatus.FIRING, event__isnull=True, rule__isnull=False)
    return convert_alerts(list(qs[:500]))
