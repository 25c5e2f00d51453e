"""Demo hook: the early-warning centre of the demo city — a realistic rule set, an inhibition rule, a few firing,
acknowledged and resolved alerts placed on villages (with locations for the map), and one silence.

Deterministic: labels, times and the silence id come from ``ctx.now`` and ``ctx.rng``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from shanzhi.core.demo import DemoContext

from .handling import AlertInput, bump_generation, upsert
from .models import Alert, AlertRule, AlertStatus, InhibitRule, Silence

CITY_PREFIX = "3309"

RULES: list[dict[str, Any]] = [
    {"name": "water-level-high", "title": "河道水位超警戒", "kind": "threshold", "severity": "critical",
     "parameters": {"metric": "water_level", "op": ">", "value": 3.5}, "for_seconds": 60, "pack": "flood_typhoon",
     "annotations": {"summary": "水位 {value} 米，超过警戒 {threshold} 米"}},
    {"name": "smoke-density", "title": "烟感浓度超标", "kind": "threshold", "severity": "critical",
     "parameters": {"metric": "smoke", "op": ">=", "value": 0.1}, "pack": "fire",
     "annotations": {"summary": "烟雾浓度 {value}"}},
    {"name": "gas-leak", "title": "燃气泄漏", "kind": "threshold", "severity": "critical",
     "parameters": {"metric": "gas_ppm", "op": ">", "value": 200}, "pack": "production_safety",
     "annotations": {"summary": "可燃气体 {value} ppm"}},
    {"name": "smoke-alarms-cluster", "title": "同一网格 10 分钟内 3 次烟感报警", "kind": "count_window",
     "severity": "critical", "parameters": {"source": "alarm", "kind": "smoke", "count": 3, "window_seconds": 600,
                                            "per": "grid"}, "pack": "fire",
     "annotations": {"summary": "10 分钟内 {count} 次烟感报警"}},
    {"name": "elderly-no-activity", "title": "独居老人 12 小时无活动", "kind": "absence", "severity": "critical",
     "parameters": {"metric": "activity", "seconds": 43200}, "pack": "elderly_alone",
     "annotations": {"summary": "已 {silent_seconds} 秒无活动"}},
    {"name": "device-heartbeat-lost", "title": "设备心跳丢失", "kind": "absence", "severity": "warning",
     "parameters": {"metric": "heartbeat", "seconds": 300}, "pack": "",
     "annotations": {"summary": "设备 {device_id} {silent_seconds} 秒无心跳"}},
    {"name": "vessel-separated", "title": "渔船脱编（8 海里内无同编组船）", "kind": "geofence", "severity": "critical",
     "parameters": {"metric": "position", "mode": "separation", "group_label": "group", "distance_nm": 8},
     "pack": "fishing_safety", "annotations": {"summary": "最近同组船 {nearest_nm} 海里"}},
    {"name": "disputes-repeat", "title": "同一网格 30 天内 3 起纠纷", "kind": "count_window", "severity": "warning",
     "parameters": {"source": "event", "categories": ["neighbour_dispute"], "count": 3,
                    "window_seconds": 30 * 86400, "per": "grid"}, "pack": "disputes",
     "annotations": {"summary": "30 天内 {count} 起纠纷"}},
    {"name": "typhoon-town", "title": "台风预警信号（镇街）", "kind": "weather", "severity": "warning",
     "parameters": {"kind": "typhoon", "min_level": "blue", "targets": ["region"]}, "pack": "flood_typhoon"},
    {"name": "typhoon-vessel", "title": "台风预警信号（渔船）", "kind": "weather", "severity": "warning",
     "parameters": {"kind": "typhoon", "min_level": "yellow", "targets": ["vessels"]}, "pack": "fishing_safety"},
    {"name": "disclosure-overdue", "title": "村务公开逾期", "kind": "disclosure_overdue", "severity": "info",
     "parameters": {"days": 7}, "pack": "village_affairs", "enabled": False},
]


def _location(village: Any, rng: Any) -> dict[str, str]:
    if village.centroid_lat is None or village.centroid_lng is None:
        return {}
    return {"lat": f"{village.centroid_lat + rng.uniform(-0.004, 0.004):.5f}",
            "lng": f"{village.centroid_lng + rng.uniform(-0.004, 0.004):.5f}"}


def build(ctx: DemoContext) -> None:
    rules = {}
    for spec in RULES:
        spec = {**spec}
        enabled = spec.pop("enabled", True)
        rules[spec["name"]] = AlertRule.objects.create(region_prefix=CITY_PREFIX, enabled=enabled, **spec)
    InhibitRule.objects.create(
        name="typhoon-town-over-vessels", equal=["town"],
        source_matchers=[{"name": "alertname", "value": "typhoon-town", "isRegex": False, "isEqual": True}],
        target_matchers=[{"name": "alertname", "value": "typhoon-vessel", "isRegex": False, "isEqual": True}])

    villages = [v for v in ctx.villages if v.code.startswith(CITY_PREFIX)][:6]
    if not villages:
        return
    now = ctx.now
    plan = [
        ("water-level-high", "critical", "water_level", "3.82", "水位 3.82 米，超过警戒 3.5 米", 25),
        ("smoke-density", "critical", "smoke", "0.14", "烟雾浓度 0.14", 8),
        ("elderly-no-activity", "critical", "activity", "", "已 46800 秒无活动", 90),
        ("device-heartbeat-lost", "warning", "heartbeat", "", "设备 12 分钟无心跳", 40),
        ("gas-leak", "critical", "gas_ppm", "260", "可燃气体 260 ppm", 300),
        ("vessel-separated", "critical", "position", "", "最近同组船 11.4 海里", 15),
    ]
    items = []
    for i, (name, severity, metric, _value, summary, minutes) in enumerate(plan):
        village = villages[i % len(villages)]
        device = f"DEMO-{metric.upper()}-{i + 1:03d}"
        labels = {"alertname": name, "severity": severity, "region": village.code, "device_id": device}
        annotations = {"summary": summary, **_location(village, ctx.rng)}
        items.append(AlertInput(labels=labels, region_code=village.code,
                                starts_at=now - dt.timedelta(minutes=minutes), annotations=annotations,
                                severity=severity, source="rule", rule_id=rules[name].pk, subject=device))
    items.append(AlertInput(labels={"alertname": "NodeDown", "severity": "warning", "region": villages[0].code,
                                    "instance": "village-gateway-01:9100", "job": "node"},
                            region_code=villages[0].code, starts_at=now - dt.timedelta(minutes=12),
                            ends_at=now + dt.timedelta(days=1), annotations={"summary": "村社网关离线"},
                            severity="warning", source="external", generator_url="http://prometheus:9090/graph"))
    upsert(items, now=now)

    dispatcher = next((u for name, u in sorted(ctx.users.items()) if name.startswith("dispatcher")), None)
    acked = Alert.objects.filter(labels__alertname="device-heartbeat-lost").first()
    if acked is not None:
        Alert.objects.filter(pk=acked.pk).update(
            status=AlertStatus.ACKNOWLEDGED, acknowledged_by=dispatcher, acknowledged_at=now - dt.timedelta(minutes=30),
            ack_comment="已通知网格员现场查看（演示）")
    resolved = Alert.objects.filter(labels__alertname="gas-leak").first()
    if resolved is not None:
        Alert.objects.filter(pk=resolved.pk).update(status=AlertStatus.RESOLVED,
                                                    ends_at=now - dt.timedelta(minutes=240))
    bump_generation()  # QuerySet.update sends no signal: tell the intakes' memories (ADR 0014)

    silence_labels = {"name": "alertname", "value": "NodeDown", "isRegex": False, "isEqual": True}
    Silence.objects.create(uuid=uuid.UUID(int=ctx.rng.getrandbits(128), version=4), region_code=villages[0].code,
                           matchers=[silence_labels], starts_at=now - dt.timedelta(minutes=10),
                           ends_at=now + dt.timedelta(days=1), created_by="演示调度员",
                           author=dispatcher, comment="网关维护窗口（演示）")
    from .handling import recompute

    recompute(now=now)
    ctx.log(f"  {Alert.objects.count()} alerts, {len(rules)} rules, 1 silence")
