"""Random sequences of transitions (Hypothesis): whatever happens, the invariants hold.

* the status always equals the last timeline row's ``to_status``;
* escalation moves exactly one level up (no skipped levels) and never twice without an accept between;
* the escalation count equals the escalate rows of the timeline;
* the rollup's current-status counters always equal the event's status.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from shanzhi.core.errors import ShanzhiError
from shanzhi.events.models import LEVEL_ORDER, DailyStat, Event, Level, TimelineEntry
from shanzhi.events.services import Intake, event_create, event_transition
from shanzhi.events.transitions import TABLE

ACTIONS = sorted(TABLE)


def run_machine(ev: Any) -> None:
    actors = [ev.grid_worker, ev.village_desk, ev.town_desk, ev.county_desk, ev.city_desk, ev.handler]

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.savepoint = transaction.savepoint()
            self.event, _ = event_create(actor=ev.grid_worker, data=Intake(
                title="随机", category="neighbour_dispute", grid_id=ev.grid.pk, custom={"parties": 2}))

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        @rule(action=st.sampled_from(ACTIONS), who=st.integers(0, len(actors) - 1),
              rating=st.integers(1, 5), opinion=st.sampled_from(["", "理由"]))
        def act(self, action: str, who: int, rating: int, opinion: str) -> None:
            params: dict[str, Any] = {}
            if action in ("dispatch",):
                params = {"assignee_id": ev.handler.pk}
            if action == "rate":
                params = {"rating": rating}
            if action == "request_extension":
                params = {"until": "2099-01-01T00:00:00+08:00"}
            before = Event.objects.get(pk=self.event.pk)
            try:
                after = event_transition(event_id=self.event.pk, actor=actors[who], action=action,
                                         opinion=opinion, params=params)
            except ShanzhiError:
                assert Event.objects.get(pk=self.event.pk).version == before.version  # nothing changed
                return
            if action == "escalate":
                assert LEVEL_ORDER.index(Level(after.level)) == LEVEL_ORDER.index(Level(before.level)) + 1

        @invariant()
        def timeline_agrees(self) -> None:
            event = Event.objects.get(pk=self.event.pk)
            rows = list(TimelineEntry.objects.filter(event=event).order_by("id").values_list("action", "to_status"))
            assert rows[-1][1] == event.status
            escalations = [i for i, (a, _s) in enumerate(rows) if a == "escalate"]
            assert len(escalations) == event.escalation_count
            for first, second in itertools.pairwise(escalations):
                assert any(a == "accept" for a, _s in rows[first + 1:second]), "escalated twice without accepting"
            counts = {m.split(":", 1)[1]: v for m, v in DailyStat.objects.filter(
                category_id=event.category_id, metric__startswith="status:").values_list("metric", "value") if v}
            assert counts == {event.status: 1}

    Lifecycle.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
    Lifecycle.TestCase().runTest()


@pytest.mark.django_db
def test_random_transition_sequences_keep_the_invariants(ev: Any) -> None:
    run_machine(ev)
