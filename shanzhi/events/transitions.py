"""The event lifecycle as one table (DOMAIN.md "Event lifecycle").

Main path: reported → accepted → dispatched → in_progress → handled → verified → closed → rated.
Side paths: reject, return, extension (request/approve/refuse), escalate, hand down, supervise, suspend/resume,
void, reopen (failed verification, bad rating, or a dispatcher's decision).

Each row says which statuses an action leaves from, where it goes (``None``: the status stays; a flag or a
record changes), which permission it needs, *whose* scope the permission must cover (the event's current
centre, its department, or the event's own region), and whether a reason is required.  The one service that
applies it is ``services.event_transition``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .models import Status, Step

S = Status


class Over(StrEnum):
    """What the actor's scope must cover."""

    CENTRE = "centre"  # the region of the centre that holds the event now (a lower centre cannot act above)
    HANDLER = "handler"  # the assignee, or the scope of the department/centre the event was dispatched to
    REGION = "region"  # the event's own region (grid workers verifying on site)
    ABOVE = "above"  # a centre strictly above the event's current level (supervision)
    REPORTER = "reporter"  # the person who reported the event (satisfaction rating)


@dataclass(frozen=True)
class Rule:
    action: str
    sources: frozenset[Status]
    target: Status | None
    permission: str
    over: Over
    reason: bool = False


def _rule(action: str, sources: set[Status], target: Status | None, permission: str, over: Over,
          reason: bool = False) -> Rule:
    return Rule(action, frozenset(sources), target, permission, over, reason)


OPEN_UNFINISHED = {S.REPORTED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.ESCALATED, S.REOPENED}

TABLE: dict[str, Rule] = {
    r.action: r
    for r in [
        _rule("accept", {S.REPORTED, S.ESCALATED}, S.ACCEPTED, "events.dispatch", Over.CENTRE),
        _rule("reject", {S.REPORTED, S.ESCALATED}, S.REJECTED, "events.dispatch", Over.CENTRE, reason=True),
        _rule("dispatch", {S.ACCEPTED, S.RETURNED, S.REOPENED}, S.DISPATCHED, "events.dispatch", Over.CENTRE),
        _rule("reroute", {S.ACCEPTED, S.DISPATCHED, S.RETURNED, S.REOPENED}, None, "events.dispatch", Over.CENTRE,
              reason=True),
        _rule("return", {S.DISPATCHED, S.IN_PROGRESS}, S.RETURNED, "events.handle", Over.HANDLER, reason=True),
        _rule("start", {S.DISPATCHED}, S.IN_PROGRESS, "events.handle", Over.HANDLER),
        _rule("handle", {S.IN_PROGRESS}, S.HANDLED, "events.handle", Over.HANDLER, reason=True),
        _rule("request_extension", {S.DISPATCHED, S.IN_PROGRESS}, None, "events.handle", Over.HANDLER, reason=True),
        _rule("approve_extension", {S.DISPATCHED, S.IN_PROGRESS}, None, "events.dispatch", Over.CENTRE),
        _rule("refuse_extension", {S.DISPATCHED, S.IN_PROGRESS}, None, "events.dispatch", Over.CENTRE, reason=True),
        _rule("verify_pass", {S.HANDLED}, S.VERIFIED, "events.verify", Over.REGION),
        _rule("verify_fail", {S.HANDLED}, S.REOPENED, "events.verify", Over.REGION, reason=True),
        _rule("close", {S.VERIFIED}, S.CLOSED, "events.dispatch", Over.CENTRE),
        _rule("rate", {S.CLOSED}, S.RATED, "events.rate", Over.REPORTER),
        _rule("escalate", OPEN_UNFINISHED - {S.ESCALATED}, S.ESCALATED, "events.dispatch", Over.CENTRE, reason=True),
        _rule("hand_down", {S.ACCEPTED, S.ESCALATED, S.REPORTED}, S.REPORTED, "events.dispatch", Over.CENTRE,
              reason=True),
        _rule("supervise", OPEN_UNFINISHED | {S.HANDLED, S.VERIFIED, S.SUSPENDED}, None, "events.supervise",
              Over.ABOVE, reason=True),
        _rule("suspend", {S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.REOPENED}, S.SUSPENDED,
              "events.dispatch", Over.CENTRE, reason=True),
        _rule("resume", {S.SUSPENDED}, None, "events.dispatch", Over.CENTRE),
        _rule("void", OPEN_UNFINISHED | {S.HANDLED, S.VERIFIED, S.SUSPENDED}, S.VOIDED, "events.void", Over.CENTRE,
              reason=True),
        _rule("reopen", {S.CLOSED, S.RATED, S.REJECTED}, S.REOPENED, "events.dispatch", Over.CENTRE, reason=True),
    ]
}

# the step whose deadline runs while an event is in a status
STEP_OF_STATUS: dict[Status, Step] = {
    S.REPORTED: Step.ACCEPT,
    S.ESCALATED: Step.ACCEPT,
    S.ACCEPTED: Step.DISPATCH,
    S.RETURNED: Step.DISPATCH,
    S.REOPENED: Step.DISPATCH,
    S.DISPATCHED: Step.HANDLE,
    S.IN_PROGRESS: Step.HANDLE,
    S.HANDLED: Step.VERIFY,
}

TERMINAL = frozenset({S.RATED, S.VOIDED})
LOW_RATING = 2  # a rating at or below this reopens the event (返工)


def allowed_actions(status: Status) -> list[str]:
    return [name for name, rule in TABLE.items() if status in rule.sources]
