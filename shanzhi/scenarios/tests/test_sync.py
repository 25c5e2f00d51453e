"""``scenarios sync``: idempotent, audited, versioned; activations per region decide what fires and what is
offered in report forms."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shanzhi.alerts.engine import feed, reset_engine
from shanzhi.alerts.models import Alert, AlertRule, AlertStatus
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied
from shanzhi.core.models import AuditEntry
from shanzhi.events.models import Category
from shanzhi.scenarios import loader, selectors, services
from shanzhi.scenarios.models import InstalledPack, PackActivation

from .conftest import CITY_B_VILLAGE, OTHER_TOWN_VILLAGE, VILLAGE, Clock


def copy_pack(tmp_path: Path, code: str, edit: tuple[str, str] | None = None) -> dict[str, loader.Pack]:
    target = tmp_path / f"{code}.yaml"
    shutil.copy(loader.pack_dir() / f"{code}.yaml", target)
    if edit:
        target.write_text(target.read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
    return loader.load_dir(tmp_path)


def test_sync_creates_categories_and_disabled_rule_templates(synced: Any) -> None:
    assert len(synced.created) == 20
    cat = Category.objects.get(code="vessel_port_report")
    assert cat.parent is not None and cat.parent.code == "safety"
    assert cat.department_type is not None and cat.department_type.code == "ocean_fisheries"
    assert [f["name"] for f in cat.fields] == ["direction", "crew", "catch_kg", "safety_equipment_ok", "port"]
    anon = Category.objects.get(code="organised_crime_report")
    assert anon.allow_anonymous and anon.min_level == "county" and anon.may_skip_levels
    assert Category.objects.get(code="traffic").parent is None  # a new parent category
    rule = AlertRule.objects.get(name="fire-smoke-density")
    assert rule.pack == "fire" and not rule.enabled and rule.region_prefix == ""
    assert rule.labels == {"pack": "fire", "scenario_rule": "fire-smoke-density"}
    assert AuditEntry.objects.filter(action="scenarios.pack.sync").count() == 20


def test_sync_is_idempotent(synced: Any) -> None:
    audits = AuditEntry.objects.count()
    rules = list(AlertRule.objects.values_list("name", "updated_at"))
    again = services.sync_all(actor="system")
    assert len(again.unchanged) == 20 and not again.created and not again.updated and not again.refused
    assert AuditEntry.objects.count() == audits
    assert list(AlertRule.objects.values_list("name", "updated_at")) == rules


def test_version_bump_updates_and_downgrade_is_refused(synced: Any, admin: Any, tree: Any, tmp_path: Path) -> None:
    services.pack_enable(actor=admin, pack_code="production_safety", region_code=tree.town_a1a)
    copy = AlertRule.objects.get(name="gas-concentration-critical-330902008")
    assert copy.enabled and copy.parameters["value"] == 25
    v2 = copy_pack(tmp_path, "production_safety", ("version: 1", "version: 2"))
    v2["production_safety"].rules[1]["parameters"]["value"] = 30
    assert services.sync_all(actor="system", selected=v2).updated == ["production_safety"]
    copy.refresh_from_db()
    assert copy.parameters["value"] == 30 and copy.enabled
    assert InstalledPack.objects.get(code="production_safety").version == 2
    # back to version 1: refused, nothing changes
    result = services.sync_all(actor="system", selected=loader.load_dir(loader.pack_dir()))
    assert "production_safety" in result.refused and "lower" in result.refused["production_safety"]
    copy.refresh_from_db()
    assert copy.parameters["value"] == 30
    with pytest.raises(Conflict):
        services.sync_pack(actor="system", pack=loader.packs()["production_safety"])


def test_changed_content_without_version_bump_is_refused(synced: Any, tmp_path: Path) -> None:
    changed = copy_pack(tmp_path, "fire", ("value: 0.1", "value: 0.2"))
    with pytest.raises(Conflict, match="bump the version"):
        services.sync_pack(actor="system", pack=changed["fire"])


def test_a_dropped_category_is_deactivated_and_dropped_rules_stop(synced: Any, admin: Any, tree: Any,
                                                                  tmp_path: Path) -> None:
    services.pack_enable(actor=admin, pack_code="garbage_sorting", region_code=tree.city_a)
    packs = copy_pack(tmp_path, "garbage_sorting", ("version: 1", "version: 2"))
    pack = packs["garbage_sorting"]
    pack.categories, pack.forms, pack.rules, pack.panel = [], [], [], {}
    services.sync_pack(actor="system", pack=pack)
    assert not Category.objects.get(code="sorting_inspection").active
    assert not AlertRule.objects.filter(name="sorting-bin-full").exists()
    assert not AlertRule.objects.get(name="sorting-bin-full-3309").enabled


def test_command_sync_and_check(synced: Any, tmp_path: Path, capsys: Any) -> None:
    call_command("scenarios", "sync")
    assert "unchanged:" in capsys.readouterr().out
    call_command("scenarios", "check")
    (tmp_path / "bad.yaml").write_text("pack: bad\nversion: 1\nname: x\nrules:\n  - name: bad-rule\n    kind: nope\n"
                                       "    parameters: {}\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"bad.yaml:6: rules\[0\].kind"):
        call_command("scenarios", "check", "--dir", str(tmp_path))
    shutil.copy(loader.pack_dir() / "fire.yaml", tmp_path / "fire.yaml")
    (tmp_path / "bad.yaml").unlink()
    (tmp_path / "fire.yaml").write_text((tmp_path / "fire.yaml").read_text().replace("value: 0.1", "value: 0.3"))
    with pytest.raises(CommandError, match="1 packs refused"):
        call_command("scenarios", "sync", "--dir", str(tmp_path))


def test_enabling_per_region_changes_what_fires(synced: Any, admin: Any, tree: Any, clock: Clock,
                                                django_capture_on_commit_callbacks: Any) -> None:
    smoke = [clock.reading("s1", "smoke_density", 0.5, 0, region=VILLAGE),
             clock.reading("s2", "smoke_density", 0.5, 0, region=OTHER_TOWN_VILLAGE),
             clock.reading("s3", "smoke_density", 0.5, 0, region=CITY_B_VILLAGE)]
    feed(smoke, now=clock.at(0))
    assert not Alert.objects.filter(labels__pack="fire").exists()  # enabled nowhere
    with django_capture_on_commit_callbacks(execute=True):
        services.pack_enable(actor=admin, pack_code="fire", region_code=tree.town_a1a)
    feed(smoke, now=clock.at(1))
    assert set(Alert.objects.filter(labels__pack="fire").values_list("subject", flat=True)) == {"s1"}
    # enabling the county adds town A1b; the town activation inside it adds no second copy
    with django_capture_on_commit_callbacks(execute=True):
        services.pack_enable(actor=admin, pack_code="fire", region_code=tree.county_a1)
    assert set(AlertRule.objects.filter(pack="fire", enabled=True).values_list("region_prefix", flat=True)) == {
        "330902"}
    feed(smoke, now=clock.at(2))
    assert set(Alert.objects.filter(labels__pack="fire").values_list("subject", flat=True)) == {"s1", "s2"}
    # disabling the county stops it there and resolves its alerts; the town's own activation takes over again
    with django_capture_on_commit_callbacks(execute=True):
        services.pack_disable(actor=admin, pack_code="fire", region_code=tree.county_a1)
    assert not Alert.objects.filter(labels__pack="fire").exclude(status=AlertStatus.RESOLVED).exists()
    reset_engine()
    feed(smoke, now=clock.at(3))
    firing = Alert.objects.filter(labels__pack="fire").exclude(status=AlertStatus.RESOLVED)
    assert [(a.subject, a.labels["alertname"]) for a in firing] == [("s1", "fire-smoke-density-330902008")]
    actions = list(AuditEntry.objects.filter(action__startswith="scenarios.pack.").exclude(
        action="scenarios.pack.sync").values_list("action", "region_code"))
    assert actions == [("scenarios.pack.enable", tree.town_a1a), ("scenarios.pack.enable", tree.county_a1),
                       ("scenarios.pack.disable", tree.county_a1)]


def test_enable_is_scope_checked(synced: Any, make_user: Any, tree: Any) -> None:
    town_admin = make_user("town_admin", tree.town_a1a)
    with pytest.raises(NotFound):
        services.pack_enable(actor=town_admin, pack_code="fire", region_code=tree.town_a1b)
    with pytest.raises(PermissionDenied):
        services.pack_enable(actor=make_user("grid_worker", VILLAGE), pack_code="fire", region_code=VILLAGE)
    with pytest.raises(NotFound):
        services.pack_enable(actor=town_admin, pack_code="no_such_pack", region_code=VILLAGE)
    services.pack_enable(actor=town_admin, pack_code="fire", region_code=VILLAGE)
    with pytest.raises(Conflict):
        services.pack_enable(actor=town_admin, pack_code="fire", region_code=VILLAGE)
    with pytest.raises(NotFound):
        services.pack_disable(actor=town_admin, pack_code="fire", region_code=tree.town_a1a)
    assert PackActivation.objects.count() == 1


def test_enabled_categories_follow_activations(synced: Any, admin: Any, tree: Any) -> None:
    def codes(region: str) -> set[str]:
        return set(selectors.enabled_categories(region).values_list("code", flat=True))

    assert "vessel_port_report" not in codes(VILLAGE) and "fire" in codes(VILLAGE)
    services.pack_enable(actor=admin, pack_code="vessel_safety", region_code=tree.town_a1a)
    assert "vessel_port_report" in codes(VILLAGE)
    assert "vessel_port_report" not in codes(OTHER_TOWN_VILLAGE)
    assert selectors.enabled_packs(VILLAGE) == {"vessel_safety"}


def test_a_hand_made_rule_of_the_same_name_is_not_taken_over(tree: Any) -> None:
    AlertRule.objects.create(name="fire-smoke-density", kind="threshold", parameters={"metric": "x", "value": 1})
    result = services.sync_all(actor="system")
    assert "fire" in result.refused and "not this pack's" in result.refused["fire"]
    assert AlertRule.objects.get(name="fire-smoke-density").parameters == {"metric": "x", "value": 1}
    assert not InstalledPack.objects.filter(code="fire").exists() and len(result.created) == 19
