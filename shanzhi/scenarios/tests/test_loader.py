"""Pack files: every built-in pack validates; a broken pack names its file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shanzhi.scenarios import loader
from shanzhi.scenarios.checks import check_packs

GOOD = """\
pack: sample
version: 1
name: 样例
categories:
  - code: sample_report
    parent: safety
    name: 样例报告
    min_level: village
    fields:
      - {name: count, label: 数量, type: int, required: true}
rules:
  - name: sample-threshold
    kind: threshold
    parameters: {metric: level, op: ">", value: 3}
"""


def write(tmp_path: Path, text: str, name: str = "sample.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_every_builtin_pack_loads_and_validates() -> None:
    packs = loader.load_dir(loader.pack_dir())
    assert len(packs) == 20
    for pack in packs.values():
        assert pack.version >= 1 and pack.name and (pack.categories or pack.rules)
        assert pack.panel["metrics"], pack.code
    assert check_packs() == []


def test_a_good_pack_in_a_temp_dir(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    packs = loader.load_dir(tmp_path)
    assert packs["sample"].rules[0]["parameters"] == {"metric": "level", "op": ">", "value": 3}
    assert packs["sample"].category_fields("sample_report")[0]["name"] == "count"


@pytest.mark.parametrize(("change", "line", "field", "reason"), [
    (("value: 3}", 'value: "three"}'), 14, "rules[0].parameters.value", "must be a number"),
    (("kind: threshold", "kind: sometimes"), 13, "rules[0].kind", "one of"),
    (("min_level: village", "min_level: galaxy"), 8, "categories[0].min_level", "one of"),
    (("type: int", "type: float"), 10, "categories[0].fields[0].type", "one of"),
    (("version: 1", "version: 0"), 2, "version", "at least 1"),
    (("name: 样例\n", "name: 样例\nextra: 1\n"), 4, "extra", "unknown field"),
    (("    parent: safety", "    parent: nowhere"), 6, "categories[0].parent", "parent_name"),
    (("code: sample_report", "code: fire"), 5, "categories[0].code", "built-in category"),
    (('op: ">"', 'op: "=>"'), 14, "rules[0].parameters.op", "one of"),
])
def test_a_broken_pack_names_file_line_and_field(tmp_path: Path, change: tuple[str, str], line: int, field: str,
                                                  reason: str) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(loader.PackError) as info:
        loader.load_dir(tmp_path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field), str(err)
    assert reason in err.reason
    assert str(err).startswith(f"{path}:{line}: {field}: ")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("name: 样例", "name: [样例"))
    with pytest.raises(loader.PackError) as info:
        loader.load_file(path)
    assert info.value.field == "(syntax)" and info.value.line >= 3


def test_an_anonymous_category_may_not_ask_for_identity(tmp_path: Path) -> None:
    text = GOOD.replace("    min_level: village", "    min_level: village\n    flags: {anonymous: true}").replace(
        "{name: count, label: 数量, type: int, required: true}",
        "{name: informant_phone, label: 联系电话, type: text}")
    path = write(tmp_path, text)
    with pytest.raises(loader.PackError) as info:
        loader.load_file(path)
    assert info.value.field == "categories[0].fields[0].name" and info.value.line == 11
    assert "identity" in info.value.reason


def test_cross_pack_checks(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD.replace("pack: sample", "pack: other").replace("sample_report", "other_report"), "b.yaml")
    with pytest.raises(loader.PackError) as info:
        loader.load_dir(tmp_path)
    assert info.value.path.endswith("b.yaml") and info.value.field == "rules[0].name"
    assert "also in sample" in info.value.reason


def test_to_event_must_name_a_known_category(tmp_path: Path) -> None:
    write(tmp_path, GOOD + "    to_event: {category: no_such_thing}\n")
    with pytest.raises(loader.PackError) as info:
        loader.load_dir(tmp_path)
    assert info.value.field == "rules[0].to_event.category" and info.value.line == 15


def test_season_is_validated(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace('value: 3}', 'value: 3, season: {from: "13-01", until: "09-16"}}'))
    with pytest.raises(loader.PackError) as info:
        loader.load_dir(tmp_path)
    assert info.value.field == "rules[0].parameters.season.from"


def test_broken_builtin_dir_fails_the_system_check(tmp_path: Path, settings: object) -> None:
    write(tmp_path, GOOD.replace("version: 1", "version: one"))
    settings.SHANZHI_SCENARIO_DIR = str(tmp_path)  # type: ignore[attr-defined]
    messages = check_packs()
    assert len(messages) == 1 and messages[0].id == "scenarios.E001"
    assert "sample.yaml:2: version:" in messages[0].msg


@pytest.mark.parametrize(("season", "day", "expected"), [
    ({"from": "05-01", "until": "09-16"}, (5, 1), True),
    ({"from": "05-01", "until": "09-16"}, (9, 16), False),
    ({"from": "05-01", "until": "09-16"}, (4, 30), False),
    ({"from": "11-01", "until": "03-01"}, (1, 15), True),  # wraps the new year
    ({"from": "11-01", "until": "03-01"}, (6, 1), False),
])
def test_rule_season_window(season: dict[str, str], day: tuple[int, int], expected: bool) -> None:
    import datetime as dt

    from shanzhi.alerts.engine import compile_rule

    rule = compile_rule(id=1, name="r", kind="threshold", parameters={"metric": "m", "value": 1, "season": season})
    at = dt.datetime(2026, day[0], day[1], 12, 0, tzinfo=dt.UTC)
    assert rule.in_season(at) is expected
