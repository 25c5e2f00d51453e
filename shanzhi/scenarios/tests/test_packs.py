"""The twenty scenarios: each pack, enabled for city A, turns its input into the expected alert and, where its
rule says ``to_event``, into an event."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.alerts.engine import feed
from shanzhi.alerts.models import Alert, AlertStatus, WeatherSignal
from shanzhi.alerts.tasks import evaluate_periodic
from shanzhi.core.errors import ValidationFailed
from shanzhi.events.models import Event
from shanzhi.events.services import Intake, event_create
from shanzhi.scenarios import services

from .conftest import CITY_B_VILLAGE, VILLAGE, Clock

pytestmark = pytest.mark.usefixtures("enabled")


def alerts(rule: str) -> list[Alert]:
    """Active alerts of a pack rule (any region copy)."""
    return [a for a in Alert.objects.filter(labels__scenario_rule=rule).exclude(status=AlertStatus.RESOLVED)]


def events_of(category: str) -> list[Event]:
    return list(Event.objects.filter(category__code=category))


def one_converted(rule: str, category: str) -> Alert:
    [alert] = alerts(rule)
    assert alert.event is not None and alert.event.category.code == category
    assert alert.event.source == "early_warning" and alert.event.alert_ref == alert.fingerprint
    assert alert.status == AlertStatus.ACKNOWLEDGED
    return alert


def report(actor: Any, category: str, **kw: Any) -> Event:
    data = {"title": f"{category} 上报", "category": category, "region_code": VILLAGE, **kw}
    return event_create(actor=actor, data=Intake(**data))[0]


def test_01_neighbour_disputes_three_in_a_grid_in_30_days(enabled: Any, tree: Any) -> None:
    grid = tree.grids[VILLAGE]
    for i in range(2):
        report(enabled, "neighbour_dispute", grid_id=grid.pk, custom={"parties": 2}, title=f"纠纷{i}")
    evaluate_periodic(timezone.now())
    assert alerts("disputes-grid-hotspot") == []
    report(enabled, "family_dispute", grid_id=grid.pk, custom={"parties": 3})
    evaluate_periodic(timezone.now())
    [alert] = alerts("disputes-grid-hotspot")
    assert alert.labels["grid"] == str(grid.pk) and "3 起纠纷" in alert.annotations["summary"]
    # thirty days later the window has drained
    evaluate_periodic(timezone.now() + dt.timedelta(days=31))
    assert alerts("disputes-grid-hotspot") == []


def test_02_safety_hazards_leakage_current(clock: Clock) -> None:
    feed([clock.reading("elec-1", "leakage_current_ma", 350, 0)], now=clock.at(0))
    assert alerts("hazard-leakage-current") == []  # pending for 60 s
    feed([clock.reading("elec-1", "leakage_current_ma", 360, 61)], now=clock.at(61))
    one_converted("hazard-leakage-current", "fire_hazard")
    feed([clock.reading("elec-2", "cable_temp_c", 85, 0)], now=clock.at(62))
    one_converted("hazard-cable-temperature", "fire_hazard")


def test_03_fire_smoke_threshold_and_camera_alarm(clock: Clock) -> None:
    feed([clock.reading("smoke-1", "smoke_density", 0.05, 0)], now=clock.at(0))
    assert alerts("fire-smoke-density") == []
    feed([clock.reading("smoke-1", "smoke_density", 0.15, 1)], now=clock.at(1))
    alert = one_converted("fire-smoke-density", "fire")
    assert alert.severity == "critical" and alert.event is not None and alert.event.severity == "major"
    feed(alarms=[clock.alarm("cam-7", "fire", 2, severity="critical")], now=clock.at(2))
    one_converted("fire-camera-alarm", "fire")
    assert len(events_of("fire")) == 2


def test_04_flood_water_level_and_typhoon_signal(enabled: Any, tree: Any, clock: Clock) -> None:
    feed([clock.reading("gauge-1", "water_level_m", 3.2, 0)], now=clock.at(0))
    [rising] = alerts("flood-water-level-rising")
    assert rising.event is None and alerts("flood-water-level") == []
    feed([clock.reading("gauge-1", "water_level_m", 3.8, 1)], now=clock.at(1))
    one_converted("flood-water-level", "waterlogging")
    # a typhoon signal for the town reaches every grid and vessel in it
    from shanzhi.people.models import FishingVessel

    vessel = FishingVessel.objects.create(region_code=VILLAGE, ship_number="浙岱渔01234", sea_grid=tree.grids[VILLAGE])
    WeatherSignal.objects.create(region_code=tree.town_a1a, kind="typhoon", level="blue", issued_at=timezone.now())
    evaluate_periodic(timezone.now())
    assert alerts("typhoon-signal") == []  # below the pack's yellow
    WeatherSignal.objects.update(level="orange")
    evaluate_periodic(timezone.now())
    found = alerts("typhoon-signal")
    grids = {a.labels.get("grid") for a in found if "grid_name" in a.labels}
    assert grids == {str(tree.grids[VILLAGE].pk), str(tree.grids["330902008202"].pk)}
    assert [a.labels["vessel"] for a in found if "vessel" in a.labels] == [vessel.ship_number]
    assert all(a.severity == "critical" for a in found)


def test_05_vessel_separation_high_risk_waters_and_port_report(enabled: Any, clock: Clock) -> None:
    def pos(device: str, lat: float, lng: float, seconds: float) -> Any:
        return clock.reading(device, "position", 0, seconds, group="G7", lat=str(lat), lng=str(lng))

    feed([pos("v1", 30.0, 122.5, 0), pos("v2", 30.0, 122.52, 0)], now=clock.at(0))
    assert alerts("vessel-out-of-group") == []
    feed([pos("v2", 30.2, 122.8, 60), pos("v1", 30.0, 122.5, 60)], now=clock.at(60))  # ~18 nm apart
    assert alerts("vessel-out-of-group") == []  # pending for 10 minutes
    feed([pos("v2", 30.2, 122.8, 700), pos("v1", 30.0, 122.5, 700)], now=clock.at(700))
    separated = alerts("vessel-out-of-group")
    assert {a.subject for a in separated} == {"v1", "v2"}
    assert all(a.event is not None and a.event.category.code == "vessel_safety" for a in separated)
    feed([clock.reading("v3", "position", 0, 800, lat="29.8", lng="123.3")], now=clock.at(800))
    [risky] = alerts("vessel-high-risk-waters")
    assert risky.subject == "v3" and risky.event is None and risky.location() == (29.8, 123.3)
    port = report(enabled, "vessel_port_report", custom={"direction": "进港", "crew": 6, "catch_kg": 1200,
                                                        "safety_equipment_ok": True, "port": "沈家门"})
    assert port.custom["crew"] == 6
    with pytest.raises(ValidationFailed):
        report(enabled, "vessel_port_report", custom={"direction": "进港", "safety_equipment_ok": True})


def test_06_elderly_alone_no_activity_and_fall(clock: Clock) -> None:
    feed([clock.reading("band-1", "activity", 1, 0), clock.reading("band-2", "activity", 1, 0)], now=clock.at(0))
    feed([clock.reading("band-2", "activity", 1, 13 * 3600)], now=clock.at(13 * 3600))
    alert = one_converted("elderly-no-activity-12h", "elderly_alone_care")
    assert alert.subject == "band-1"
    feed(alarms=[clock.alarm("band-2", "fall", 13 * 3600 + 5, severity="critical")], now=clock.at(13 * 3600 + 5))
    one_converted("elderly-fall", "elderly_alone_care")


def test_07_illegal_construction_ai_detection(clock: Clock) -> None:
    feed(alarms=[clock.alarm("uav-1", "new_construction")], now=clock.at(0))
    one_converted("construction-ai-detected", "illegal_construction")


def test_08_environment_pm25_and_exposed_garbage(clock: Clock) -> None:
    feed([clock.reading("dust-1", "pm25", 180, 0)], now=clock.at(0))
    feed([clock.reading("dust-1", "pm25", 190, 1000)], now=clock.at(1000))
    assert alerts("env-pm25-high") == []  # 30 minutes above first
    feed([clock.reading("dust-1", "pm25", 175, 1900)], now=clock.at(1900))
    assert len(alerts("env-pm25-high")) == 1
    feed(alarms=[clock.alarm("cam-2", "exposed_garbage", 1901)], now=clock.at(1901))
    one_converted("env-exposed-garbage", "exposed_garbage")


def test_09_garbage_sorting_bin_full(enabled: Any, clock: Clock) -> None:
    feed([clock.reading("bin-1", "bin_fill_percent", 85, 0)], now=clock.at(0))
    assert alerts("sorting-bin-full") == []
    feed([clock.reading("bin-1", "bin_fill_percent", 95, 1)], now=clock.at(1))
    one_converted("sorting-bin-full", "garbage_sorting")
    report(enabled, "sorting_inspection", custom={"households": 40, "correct_percent": 86})


def test_10_road_traffic_accident_and_wrong_way(clock: Clock) -> None:
    feed(alarms=[clock.alarm("gate-1", "traffic_accident", severity="critical")], now=clock.at(0))
    alert = one_converted("traffic-accident-detected", "traffic_accident")
    assert alert.event is not None and alert.event.category.parent is not None
    assert alert.event.category.parent.code == "traffic"
    feed(alarms=[clock.alarm("gate-2", "wrong_way", s) for s in (10, 20)], now=clock.at(20))
    assert alerts("traffic-wrong-way-repeated") == []
    feed(alarms=[clock.alarm("gate-2", "wrong_way", 30)], now=clock.at(30))
    [wrong] = alerts("traffic-wrong-way-repeated")
    assert wrong.event is None and wrong.severity == "warning"


def test_11_rental_housing_unregistered_faces(enabled: Any, clock: Clock) -> None:
    feed(alarms=[clock.alarm("door-1", "unregistered_face", s) for s in range(4)], now=clock.at(4))
    assert alerts("rental-unregistered-faces") == []
    feed(alarms=[clock.alarm("door-1", "unregistered_face", 5)], now=clock.at(5))
    one_converted("rental-unregistered-faces", "floating_population")
    report(enabled, "rental_registration", custom={"rooms": 3, "tenants": 5, "contract_filed": False})


def test_12_key_persons_missed_checkin_and_face_match(clock: Clock) -> None:
    feed([clock.reading("kp-1", "key_person_checkin", 1, 0), clock.reading("kp-2", "key_person_checkin", 1, 0)],
         now=clock.at(0))
    feed([clock.reading("kp-2", "key_person_checkin", 1, 2 * 86400)], now=clock.at(2 * 86400))
    assert alerts("key-person-missed-checkin") == []
    feed([clock.reading("kp-2", "key_person_checkin", 1, 3 * 86400 + 60)], now=clock.at(3 * 86400 + 60))
    assert one_converted("key-person-missed-checkin", "key_person_visit").subject == "kp-1"
    feed(alarms=[clock.alarm("gate-9", "key_person_match", 3 * 86400 + 61)], now=clock.at(3 * 86400 + 61))
    [match] = alerts("key-person-face-match")
    assert match.severity == "info" and match.event is None


def test_13_campus_intrusion_and_loitering(clock: Clock) -> None:
    # the same alarms from cameras that are not at a school do not concern the campus pack
    feed(alarms=[clock.alarm("harbour-cam", "intrusion", severity="critical"),
                 clock.alarm("shop-cam", "intrusion", severity="critical", site="market")], now=clock.at(0))
    assert alerts("campus-intrusion") == []
    feed(alarms=[clock.alarm("school-cam-1", "intrusion", severity="critical", site="school")], now=clock.at(0))
    alert = one_converted("campus-intrusion", "campus_hazard")
    assert alert.labels["scene"] == "campus"
    feed(alarms=[clock.alarm("school-cam-2", "loitering", s, site="kindergarten") for s in (0, 600, 1200)],
         now=clock.at(1200))
    [loiter] = alerts("campus-loitering")
    assert loiter.event is None


def test_14_epidemic_fever_cluster_in_a_grid(tree: Any, clock: Clock) -> None:
    grid = tree.grids[VILLAGE].pk
    feed([clock.reading("gate-1", "body_temp_c", 37.6, 0, grid_id=grid)], now=clock.at(0))
    [single] = alerts("epidemic-fever")
    assert single.severity == "info"
    feed([clock.reading(f"gate-{i}", "body_temp_c", 36.5 if i == 5 else 37.8, i * 60, grid_id=grid)
          for i in range(2, 6)], now=clock.at(300))
    assert alerts("epidemic-fever-cluster") == []  # four fevers so far
    feed([clock.reading("gate-6", "body_temp_c", 38.1, 400, grid_id=grid)], now=clock.at(400))
    alert = one_converted("epidemic-fever-cluster", "epidemic")
    assert alert.labels["grid"] == str(grid)


def test_15_production_safety_gas_concentration(enabled: Any, clock: Clock) -> None:
    feed([clock.reading("gas-1", "gas_lel_percent", 12, 0)], now=clock.at(0))
    [warning] = alerts("gas-concentration-warning")
    assert warning.event is None and alerts("gas-concentration-critical") == []
    feed([clock.reading("gas-1", "gas_lel_percent", 31, 1)], now=clock.at(1))
    one_converted("gas-concentration-critical", "production_safety")
    report(enabled, "enterprise_inspection", custom={"enterprise": "某水产公司", "hazards_found": 2,
                                                    "inspected_on": "2026-07-01"})


def test_16_closed_season_vessel_outside_port() -> None:
    in_season = Clock(dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC))
    out_of_season = Clock(dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC))

    def pos(clock: Clock, device: str, lat: float, lng: float, seconds: float) -> Any:
        return clock.reading(device, "position", 0, seconds, lat=str(lat), lng=str(lng))

    feed([pos(out_of_season, "boat-1", 30.1, 122.6, 0), pos(out_of_season, "boat-1", 30.1, 122.6, 400)],
         now=out_of_season.at(400))
    assert alerts("closed-season-out-of-port") == []  # fishing is open in October
    feed([pos(in_season, "boat-2", 29.94, 122.30, 0)], now=in_season.at(0))  # in port
    feed([pos(in_season, "boat-2", 30.1, 122.6, 10)], now=in_season.at(10))
    assert alerts("closed-season-out-of-port") == []  # pending five minutes
    feed([pos(in_season, "boat-2", 30.12, 122.62, 320)], now=in_season.at(320))
    alert = one_converted("closed-season-out-of-port", "illegal_fishing")
    assert alert.subject == "boat-2"


def test_17_geological_hazards_displacement_and_rain(clock: Clock) -> None:
    feed([clock.reading("slope-1", "displacement_mm", 25, 0), clock.reading("rain-1", "rainfall_24h_mm", 130, 0)],
         now=clock.at(0))
    one_converted("geo-displacement", "geological_hazard")
    [rain] = alerts("geo-rainfall-24h")
    assert rain.event is None


def test_18_petitions_three_in_a_week(enabled: Any) -> None:
    for i in range(2):
        report(enabled, "petition", custom={"parties": 1}, title=f"信访{i}")
    evaluate_periodic(timezone.now())
    assert alerts("petitions-repeated") == []
    report(enabled, "petition_reception", custom={"petitioners": 12, "collective": True,
                                                  "issue": "征地拆迁"})
    evaluate_periodic(timezone.now())
    [alert] = alerts("petitions-repeated")
    assert alert.region_code == VILLAGE and "3 件" in alert.annotations["summary"]


def test_19_organised_crime_anonymous_clues(make_user: Any) -> None:
    resident = make_user("resident", VILLAGE)
    for i in range(3):
        event = report(resident, "organised_crime_report", anonymous=True, reporter_name="张三",
                       reporter_phone="13800000000", custom={"clue_type": "非法放贷"}, title=f"线索{i}")
        assert event.anonymous and event.reporter is None
        assert event.reporter_name == "" and event.reporter_phone == ""
        assert event.level == "county"
    fields = event.category.fields
    assert {f["name"] for f in fields} == {"clue_type", "occurred_on", "involved_count"}
    with pytest.raises(ValidationFailed):  # the form takes no identity field
        report(resident, "organised_crime_report", anonymous=True, custom={"clue_type": "村霸", "name": "李四"})
    evaluate_periodic(timezone.now())
    [alert] = alerts("organised-crime-clue-cluster")
    assert alert.region_code == VILLAGE


def test_20_elderly_care_heart_rate_and_missed_followup(clock: Clock) -> None:
    feed([clock.reading("watch-1", "heart_rate_bpm", 130, 0)], now=clock.at(0))
    assert alerts("care-heart-rate-high") == []
    feed([clock.reading("watch-1", "heart_rate_bpm", 128, 61)], now=clock.at(61))
    one_converted("care-heart-rate-high", "health_followup")
    feed([clock.reading("watch-2", "heart_rate_bpm", 40, 0), clock.reading("watch-2", "heart_rate_bpm", 42, 70)],
         now=clock.at(70))
    one_converted("care-heart-rate-low", "health_followup")
    feed([clock.reading("doc-1", "health_followup_visit", 1, 100), clock.reading("doc-2", "health_followup_visit", 1,
                                                                                  100)], now=clock.at(100))
    feed([clock.reading("doc-2", "health_followup_visit", 1, 31 * 86400)], now=clock.at(31 * 86400))
    [missed] = alerts("care-followup-missed")
    assert missed.subject == "doc-1"


def test_packs_do_not_fire_where_not_enabled(clock: Clock) -> None:
    feed([clock.reading("smoke-9", "smoke_density", 0.9, 0, region=CITY_B_VILLAGE)], now=clock.at(0))
    assert alerts("fire-smoke-density") == []


def test_pending_conversion_for_periodic_rules(enabled: Any, tree: Any) -> None:
    """Alerts raised by the periodic rules (event counts) are converted by ``convert_pending``; the disputes pack
    has no to_event, so nothing is created for it."""
    grid = tree.grids[VILLAGE]
    for i in range(3):
        report(enabled, "neighbour_dispute", grid_id=grid.pk, custom={"parties": 2}, title=f"纠纷{i}")
    evaluate_periodic(timezone.now())
    before = Event.objects.count()
    assert services.convert_pending() == []
    assert Event.objects.count() == before
