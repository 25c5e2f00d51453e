"""The category dictionary shipped with Shanzhi: GB/T 31000-2015 "9+X" and the digital city-management classes.

Each leaf: (code, name, English name, lowest competent level, department type code or "", flags).  Flags:
``a`` anonymous reports allowed, ``d`` dispute (mediation record), ``e`` auto-escalate when overdue,
``s`` escalation may skip a level.  Deadlines are working minutes per step (None: the deployment default).
"""

from __future__ import annotations

from typing import Any

GENERAL = {"accept": 120, "dispatch": 240, "handle": 2250, "verify": 960}
URGENT = {"accept": 30, "dispatch": 60, "handle": 480, "verify": 240}
DISPUTE = {"accept": 240, "dispatch": 480, "handle": 4500, "verify": 960}

PARTIES = [
    {"name": "parties", "label": "当事人(方数)", "type": "int", "required": True},
    {"name": "amount", "label": "涉及金额(元)", "type": "int", "required": False},
]

TREE: list[tuple[str, str, str, list[tuple[Any, ...]]]] = [
    ("population", "实有人口", "Population", [
        ("population_change", "人口信息变更", "Population data change", "village", "", "", GENERAL),
        ("floating_population", "流动人口登记", "Floating population registration", "village", "", "", GENERAL),
    ]),
    ("special_groups", "特殊人群", "Special groups", [
        ("released_person", "刑满释放人员动态", "Released person follow-up", "town", "justice", "", GENERAL),
        ("community_correction", "社区矫正人员异常", "Community correction anomaly", "town", "justice", "e", URGENT),
        ("mental_disorder", "严重精神障碍患者异常", "Severe mental disorder anomaly", "town", "health", "e", URGENT),
    ]),
    ("youth", "重点青少年", "Key youth", [
        ("left_behind_child", "留守儿童关爱", "Left-behind child care", "village", "civil_affairs", "", GENERAL),
        ("idle_youth", "闲散青少年", "Idle youth", "town", "", "", GENERAL),
    ]),
    ("organisations", "非公经济组织和社会组织", "Non-public and social organisations", [
        ("organisation_change", "单位信息变更", "Organisation data change", "village", "", "", GENERAL),
    ]),
    ("public_order", "社会治安", "Public order", [
        ("security_hazard", "治安隐患", "Public-order hazard", "village", "police", "", GENERAL),
        ("suspicious_person", "可疑人员", "Suspicious person", "town", "police", "ae", URGENT),
        ("organised_crime_clue", "扫黑除恶线索", "Organised-crime clue", "county", "police", "as", GENERAL),
    ]),
    ("disputes", "矛盾纠纷", "Disputes", [
        ("neighbour_dispute", "邻里纠纷", "Neighbour dispute", "village", "", "d", DISPUTE),
        ("family_dispute", "婚姻家庭纠纷", "Family dispute", "village", "", "d", DISPUTE),
        ("land_dispute", "土地山林纠纷", "Land dispute", "town", "natural_resources", "d", DISPUTE),
        ("fishing_dispute", "渔事纠纷", "Fishing dispute", "village", "ocean_fisheries", "d", DISPUTE),
        ("property_dispute", "物业纠纷", "Property-management dispute", "village", "housing", "d", DISPUTE),
        ("labour_dispute", "劳资纠纷", "Labour dispute", "county", "labour_arbitration", "d", DISPUTE),
        ("petition", "信访事项", "Petition", "town", "petitions", "de", DISPUTE),
    ]),
    ("campus", "校园及周边安全", "Campus surroundings", [
        ("campus_hazard", "校园周边隐患", "Campus surroundings hazard", "town", "police", "", URGENT),
    ]),
    ("roads_lines", "护路护线", "Roads and lines protection", [
        ("road_facility", "道路设施损坏", "Damaged road facility", "town", "transport", "", GENERAL),
        ("power_line", "电力线路隐患", "Power-line hazard", "town", "", "e", URGENT),
    ]),
    ("safety", "安全隐患", "Safety hazards", [
        ("fire_hazard", "消防隐患", "Fire hazard", "village", "emergency", "e", URGENT),
        ("production_safety", "安全生产隐患", "Production-safety hazard", "town", "emergency", "e", GENERAL),
        ("geological_hazard", "地质灾害隐患", "Geological hazard", "town", "natural_resources", "es", URGENT),
        ("vessel_safety", "渔船安全", "Fishing-vessel safety", "town", "ocean_fisheries", "es", URGENT),
    ]),
    ("environment", "市容环境", "City appearance and environment", [
        ("exposed_garbage", "暴露垃圾", "Exposed garbage", "village", "", "", GENERAL),
        ("garbage_sorting", "垃圾分类", "Garbage sorting", "village", "", "", GENERAL),
        ("river_pollution", "河道污染", "River pollution", "town", "ecology", "", GENERAL),
        ("stacked_materials", "乱堆物料", "Stacked materials", "village", "", "", GENERAL),
    ]),
    ("advertising", "宣传广告", "Advertising", [
        ("illegal_ad", "违规广告", "Illegal advertisement", "town", "law_enforcement", "", GENERAL),
    ]),
    ("construction", "施工管理", "Construction management", [
        ("illegal_construction", "违法建设", "Illegal construction", "town", "law_enforcement", "e", GENERAL),
        ("construction_noise", "施工扰民", "Construction nuisance", "town", "law_enforcement", "", GENERAL),
    ]),
    ("street_order", "街面秩序", "Street order", [
        ("street_vending", "占道经营", "Street vending", "town", "law_enforcement", "", GENERAL),
        ("illegal_parking", "乱停车", "Illegal parking", "town", "police", "", GENERAL),
    ]),
    ("emergencies", "突发事件", "Emergencies", [
        ("fire", "火情", "Fire", "town", "emergency", "es", URGENT),
        ("waterlogging", "积水内涝", "Waterlogging", "town", "emergency", "e", URGENT),
        ("typhoon_damage", "台风灾情", "Typhoon damage", "county", "emergency", "s", URGENT),
        ("epidemic", "疫情防控", "Epidemic prevention", "town", "health", "e", URGENT),
    ]),
]


def seed_categories(category_model: Any, department_model: Any | None = None) -> int:
    """Create or update the shipped categories (works with historical models in migrations)."""
    created = 0
    departments = {}
    if department_model is not None:
        departments = {d.code: d for d in department_model.objects.all()}
    for sort, (code, name, name_en, leaves) in enumerate(TREE):
        parent, was_created = category_model.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "parent": None, "sort": sort * 100})
        created += was_created
        for index, (leaf, leaf_name, leaf_en, level, dept, flags, deadlines) in enumerate(leaves):
            _, was_created = category_model.objects.update_or_create(
                code=leaf,
                defaults={
                    "name": leaf_name, "name_en": leaf_en, "parent": parent, "min_level": level,
                    "department_type": departments.get(dept), "allow_anonymous": "a" in flags,
                    "is_dispute": "d" in flags, "auto_escalate": "e" in flags, "may_skip_levels": "s" in flags,
                    "deadlines": deadlines, "fields": PARTIES if "d" in flags else [],
                    "sort": sort * 100 + index + 1,
                },
            )
            created += was_created
    return created
