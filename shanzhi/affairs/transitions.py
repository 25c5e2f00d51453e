"""The 五议两公开 procedure as one table (DOMAIN.md "Village decisions: 五议两公开").

Main path::

    proposal → party_branch → joint_meeting (plan published) → party_assembly → villagers_meeting
             → result_published → implementation → implementation_published → evaluation → closed

Each row names the stages an action leaves from, where it goes, the permission, and its conditions:

* ``meeting_kinds``: the step is the outcome of a vote in a CLOSED meeting of one of these kinds that had an
  item for this decision.  A passed vote goes to ``target``; a failed one goes to ``fail_target``:
  - a failed joint meeting keeps the matter with the party branch (it can be deliberated again);
  - a failed party-member assembly RETURNS the matter to the party branch (to be reworked and deliberated
    again — the plan must then be published again);
  - a failed villagers' (representatives') meeting ENDS the matter (rejected); a new proposal starts over.
* ``wait``: a publication period (a village setting) must have fully elapsed since the named timestamp.
* ``optional_only``: the row applies only to matters that do not require the procedure (type "other" below
  the village's large-amount threshold) — the village committee may then decide directly.  A matter of a
  required type can therefore reach implementation only through party_assembly, villagers_meeting and
  result_published: the table has no other path.

Stages can be neither skipped nor reordered because every row has exactly one source stage on the main
path.  The one service that applies the table is ``services.decision_transition``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Stage

S = Stage


@dataclass(frozen=True)
class Rule:
    action: str
    sources: frozenset[str]
    target: str | None
    permission: str
    reason: bool = False
    meeting_kinds: frozenset[str] = frozenset()
    fail_target: str | None = None
    wait: str = ""  # "plan" | "result": the publication period that must have elapsed
    publishes: str = ""  # "plan" | "result" | "implementation" | "record": sets a timestamp and a code
    optional_only: bool = False


def _rule(action: str, sources: set[str], target: str | None, permission: str = "affairs.manage",
          **kw: object) -> Rule:
    return Rule(action, frozenset(sources), target, permission, **kw)  # type: ignore[arg-type]


OPEN = {s.value for s in Stage if s not in (S.CLOSED, S.REJECTED)}

TABLE: dict[str, Rule] = {
    r.action: r
    for r in [
        _rule("branch_propose", {S.PROPOSAL}, S.PARTY_BRANCH),
        _rule("joint_deliberate", {S.PARTY_BRANCH}, S.JOINT_MEETING, meeting_kinds=frozenset({"joint"}),
              fail_target=S.PARTY_BRANCH, publishes="plan"),
        _rule("assembly_review", {S.JOINT_MEETING}, S.PARTY_ASSEMBLY,
              meeting_kinds=frozenset({"party_assembly"}), fail_target=S.PARTY_BRANCH, wait="plan"),
        _rule("villagers_resolve", {S.PARTY_ASSEMBLY}, S.VILLAGERS_MEETING,
              meeting_kinds=frozenset({"villagers", "representatives"}), fail_target=S.REJECTED),
        _rule("publish_result", {S.VILLAGERS_MEETING}, S.RESULT_PUBLISHED, publishes="result"),
        _rule("implement", {S.RESULT_PUBLISHED}, S.IMPLEMENTATION, wait="result"),
        _rule("committee_decide", {S.PARTY_BRANCH}, S.IMPLEMENTATION, reason=True, optional_only=True,
              publishes="plan"),
        _rule("publish_implementation", {S.IMPLEMENTATION}, S.IMPLEMENTATION_PUBLISHED, reason=True,
              publishes="implementation"),
        _rule("evaluate", {S.IMPLEMENTATION_PUBLISHED}, S.EVALUATION, reason=True),
        _rule("sign", {S.EVALUATION}, S.CLOSED, "affairs.supervise", publishes="record"),
        _rule("withdraw", {S.PROPOSAL, S.PARTY_BRANCH}, S.REJECTED, reason=True),
        _rule("opinion", OPEN | {S.CLOSED}, None, "affairs.supervise", reason=True),
    ]
}

MAIN_PATH = [s.value for s in Stage if s is not S.REJECTED]


def allowed_actions(stage: str, *, requires_procedure: bool = True) -> list[str]:
    return [name for name, rule in TABLE.items()
            if stage in rule.sources and not (rule.optional_only and requires_procedure)]
