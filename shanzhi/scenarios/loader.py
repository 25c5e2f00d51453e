"""Scenario packs: versioned YAML files that add event categories, alert rules, report forms and a dashboard panel.

:func:`load_dir` reads every ``*.yaml`` of a directory and validates it without touching the database; an error
names the file, the line and the field (``scenarios/fire.yaml:14: rules[0].parameters.value: must be a
number``).  The node tree of :func:`yaml.compose` keeps the position of every value, so the error points at the
offending line.  The format is documented in ``docs/guide/scenario-packs.md``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from shanzhi.alerts.engine import RuleError, compile_rule
from shanzhi.events import seed

FORMAT_KEYS = {"pack", "version", "name", "name_en", "description", "categories", "rules", "forms", "panel"}
CATEGORY_KEYS = {"code", "parent", "parent_name", "parent_name_en", "name", "name_en", "min_level", "department",
                 "flags", "deadlines", "fields"}
RULE_KEYS = {"name", "title", "kind", "parameters", "severity", "for_seconds", "labels", "annotations", "to_event"}
FIELD_KEYS = {"name", "label", "type", "required", "choices"}
FIELD_TYPES = ("text", "int", "bool", "date", "choice")
FLAGS = ("anonymous", "dispute", "auto_escalate", "may_skip")
LEVELS = ("village", "town", "county", "city")
STEPS = ("accept", "dispatch", "handle", "verify")
KINDS = ("threshold", "count_window", "absence", "geofence", "weather", "disclosure_overdue")
CHARTS = ("line", "bar", "pie", "number")
SLUG = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
RULE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,63}$")
# a report of an anonymous category must never ask who the reporter (or anyone) is
IDENTITY = re.compile(r"(name|phone|mobile|tel|id_?card|id_?number|identity|wechat|address|姓名|名字|电话|手机|"
                      r"身份证|证件|住址|微信|联系方式)", re.IGNORECASE)

SEED_PARENTS = {code for code, _n, _e, _l in seed.TREE}
SEED_LEAVES = {leaf[0] for _c, _n, _e, leaves in seed.TREE for leaf in leaves}


class PackError(ValueError):
    """A pack that does not validate: the file, the line (1-based) and the field, and why."""

    def __init__(self, path: Path | str, line: int, field_name: str, reason: str) -> None:
        super().__init__(f"{path}:{line}: {field_name}: {reason}")
        self.path = str(path)
        self.line = line
        self.field = field_name
        self.reason = reason


@dataclass
class Pack:
    code: str
    version: int
    name: str
    name_en: str
    description: str
    categories: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    forms: list[dict[str, Any]]
    panel: dict[str, Any]
    path: Path
    lines: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def digest(self) -> str:
        body = {k: getattr(self, k) for k in ("code", "version", "name", "name_en", "description", "categories",
                                              "rules", "forms", "panel")}
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def error(self, path: str, reason: str) -> PackError:
        return PackError(self.path, line_of(self.lines, path), path, reason)

    def category_fields(self, code: str) -> list[dict[str, Any]]:
        """A category's custom fields: its own plus those the pack's forms add for it."""
        fields: list[dict[str, Any]] = []
        seen: set[str] = set()
        for cat in self.categories:
            if cat["code"] == code:
                for f in cat.get("fields", []):
                    fields.append(f)
                    seen.add(f["name"])
        for form in self.forms:
            if form["category"] == code:
                for f in form.get("fields", []):
                    if f["name"] not in seen:
                        fields.append(f)
                        seen.add(f["name"])
        return fields


def line_of(lines: dict[str, int], path: str) -> int:
    """The line of ``path``, or of its nearest ancestor that has one."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("", 1)


# --- YAML -> Python, keeping the line of every node ------------------------------------------------------
def _plain(node: yaml.Node, path: str, lines: dict[str, int], file: Path) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise PackError(file, key_node.start_mark.line + 1, path or "(top)", "keys must be plain names")
            key = str(key_node.value)
            sub = f"{path}.{key}" if path else key
            if key in out:
                raise PackError(file, key_node.start_mark.line + 1, sub, "duplicate key")
            out[key] = _plain(value_node, sub, lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, f"{path}[{i}]", lines, file) for i, item in enumerate(node.value)]
    try:
        return yaml.constructor.SafeConstructor().construct_object(node)
    except yaml.YAMLError as exc:
        raise PackError(file, node.start_mark.line + 1, path, str(getattr(exc, "problem", exc))) from None


def parse(path: Path) -> tuple[Any, dict[str, int]]:
    lines: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(path, 1, "(file)", f"cannot be read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PackError(path, (mark.line + 1) if mark else 1, "(syntax)", str(getattr(exc, "problem", exc))) from None
    if node is None:
        raise PackError(path, 1, "(top)", "the file is empty")
    return _plain(node, "", lines, path), lines


# --- validation --------------------------------------------------------------------------------------------
class _V:
    def __init__(self, file: Path, lines: dict[str, int]) -> None:
        self.file, self.lines = file, lines

    def fail(self, path: str, reason: str) -> PackError:
        return PackError(self.file, line_of(self.lines, path), path, reason)

    def mapping(self, value: Any, path: str, allowed: set[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path or "(top)", "must be a mapping")
        for key in value:
            if key not in allowed:
                sub = f"{path}.{key}" if path else key
                raise self.fail(sub, f"unknown field (allowed: {', '.join(sorted(allowed))})")
        for key in required:
            if key not in value:
                raise self.fail(path or "(top)", f"the field {key!r} is required")
        return value

    def text(self, value: Any, path: str, *, max_length: int = 200, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_length:
            raise self.fail(path, f"must be text of 1 to {max_length} characters")
        return value

    def slug(self, value: Any, path: str, pattern: re.Pattern[str] = SLUG) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            raise self.fail(path, f"must match {pattern.pattern}")
        return value

    def integer(self, value: Any, path: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(path, f"must be a whole number of at least {minimum}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, "must be true or false")
        return value

    def listing(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, "must be a list")
        return value

    def fields(self, value: Any, path: str, *, anonymous: bool) -> list[dict[str, Any]]:
        out = []
        names: set[str] = set()
        for i, raw in enumerate(self.listing(value, path)):
            p = f"{path}[{i}]"
            f = self.mapping(raw, p, FIELD_KEYS, ("name", "label", "type"))
            name = self.slug(f["name"], f"{p}.name")
            if name in names:
                raise self.fail(f"{p}.name", f"duplicate field {name!r}")
            names.add(name)
            label = self.text(f["label"], f"{p}.label", max_length=80)
            if f["type"] not in FIELD_TYPES:
                raise self.fail(f"{p}.type", f"one of {', '.join(FIELD_TYPES)}")
            clean: dict[str, Any] = {"name": name, "label": label, "type": f["type"],
                                     "required": self.boolean(f.get("required", False), f"{p}.required")}
            if f["type"] == "choice":
                choices = self.listing(f.get("choices"), f"{p}.choices")
                if not choices or not all(isinstance(c, str) and c for c in choices):
                    raise self.fail(f"{p}.choices", "a choice field needs a non-empty list of texts")
                clean["choices"] = choices
            elif "choices" in f:
                raise self.fail(f"{p}.choices", "only a choice field has choices")
            if anonymous and (IDENTITY.search(name) or IDENTITY.search(label)):
                raise self.fail(f"{p}.name", "an anonymous category must not ask for anyone's identity "
                                             "(name, phone, ID number, address …)")
            out.append(clean)
        return out

    def category(self, raw: Any, p: str) -> dict[str, Any]:
        c = self.mapping(raw, p, CATEGORY_KEYS, ("code", "parent", "name", "min_level"))
        code = self.slug(c["code"], f"{p}.code")
        if code in SEED_LEAVES or code in SEED_PARENTS:
            raise self.fail(f"{p}.code", f"{code!r} is a built-in category; a pack adds new ones")
        parent = self.slug(c["parent"], f"{p}.parent")
        out: dict[str, Any] = {"code": code, "parent": parent,
                               "name": self.text(c["name"], f"{p}.name", max_length=80),
                               "name_en": self.text(c.get("name_en"), f"{p}.name_en", max_length=120,
                                                    required=False)}
        if parent not in SEED_PARENTS:
            if "parent_name" not in c:
                raise self.fail(f"{p}.parent", "not a built-in parent category: add parent_name to create it")
            out["parent_name"] = self.text(c.get("parent_name"), f"{p}.parent_name", max_length=80)
            out["parent_name_en"] = self.text(c.get("parent_name_en"), f"{p}.parent_name_en", max_length=120,
                                              required=False)
        if c["min_level"] not in LEVELS:
            raise self.fail(f"{p}.min_level", f"one of {', '.join(LEVELS)}")
        out["min_level"] = c["min_level"]
        out["department"] = self.slug(c["department"], f"{p}.department") if c.get("department") else ""
        flags = self.mapping(c.get("flags") or {}, f"{p}.flags", set(FLAGS))
        out["flags"] = {name: self.boolean(flags.get(name, False), f"{p}.flags.{name}") for name in FLAGS}
        deadlines = self.mapping(c.get("deadlines") or {}, f"{p}.deadlines", set(STEPS))
        out["deadlines"] = {step: self.integer(minutes, f"{p}.deadlines.{step}", minimum=1)
                            for step, minutes in deadlines.items()}
        out["fields"] = self.fields(c.get("fields"), f"{p}.fields", anonymous=out["flags"]["anonymous"])
        return out

    def rule(self, raw: Any, p: str, index: int) -> dict[str, Any]:
        r = self.mapping(raw, p, RULE_KEYS, ("name", "kind", "parameters"))
        name = self.slug(r["name"], f"{p}.name", RULE_NAME)
        if r["kind"] not in KINDS:
            raise self.fail(f"{p}.kind", f"one of {', '.join(KINDS)}")
        for_seconds = self.integer(r.get("for_seconds", 0), f"{p}.for_seconds")
        if for_seconds > 7 * 86400:
            raise self.fail(f"{p}.for_seconds", "at most 604800 (seven days)")
        out: dict[str, Any] = {
            "name": name, "title": self.text(r.get("title"), f"{p}.title", max_length=120, required=False),
            "kind": r["kind"], "parameters": r["parameters"], "severity": r.get("severity", "warning"),
            "for_seconds": for_seconds, "labels": r.get("labels") or {}, "annotations": r.get("annotations") or {},
        }
        try:
            compile_rule(id=index, name=name, kind=out["kind"], parameters=out["parameters"],
                         severity=out["severity"], labels=out["labels"], annotations=out["annotations"],
                         for_seconds=for_seconds)
        except RuleError as exc:
            where = exc.field if exc.field in ("severity", "labels", "annotations", "kind", "parameters") \
                else f"parameters.{exc.field}"
            raise self.fail(f"{p}.{where}", exc.reason) from None
        for reserved in ("pack", "alertname", "region", "severity"):
            if reserved in out["labels"]:
                raise self.fail(f"{p}.labels.{reserved}", "a reserved label, set by the engine")
        if r.get("to_event") is not None:
            t = self.mapping(r["to_event"], f"{p}.to_event", {"category", "when"}, ("category",))
            when = t.get("when", "firing")
            if when not in ("firing", "critical"):
                raise self.fail(f"{p}.to_event.when", "one of firing, critical")
            if out["kind"] == "weather":
                raise self.fail(f"{p}.to_event", "weather alerts are not turned into events one by one")
            out["to_event"] = {"category": self.slug(t["category"], f"{p}.to_event.category"), "when": when}
        return out

    def panel(self, raw: Any, p: str, categories: set[str]) -> dict[str, Any]:
        d = self.mapping(raw, p, {"title", "chart", "metrics"}, ("title", "chart", "metrics"))
        if d["chart"] not in CHARTS:
            raise self.fail(f"{p}.chart", f"one of {', '.join(CHARTS)}")
        metrics = []
        for i, m in enumerate(self.listing(d["metrics"], f"{p}.metrics")):
            mp = f"{p}.metrics[{i}]"
            m = self.mapping(m, mp, {"label", "events", "alerts"}, ("label",))
            label = self.text(m["label"], f"{mp}.label", max_length=60)
            if ("events" in m) == ("alerts" in m):
                raise self.fail(mp, "give exactly one of events (category codes) or alerts (firing|all)")
            if "events" in m:
                codes = self.listing(m["events"], f"{mp}.events")
                if not codes:
                    raise self.fail(f"{mp}.events", "at least one category code")
                for j, code in enumerate(codes):
                    self.slug(code, f"{mp}.events[{j}]")
                metrics.append({"label": label, "events": codes})
            else:
                if m["alerts"] not in ("firing", "all"):
                    raise self.fail(f"{mp}.alerts", "one of firing, all")
                metrics.append({"label": label, "alerts": m["alerts"]})
        if not metrics:
            raise self.fail(f"{p}.metrics", "at least one metric")
        return {"title": self.text(d["title"], f"{p}.title", max_length=80), "chart": d["chart"],
                "metrics": metrics}


def load_file(path: Path) -> Pack:
    """Parse and validate one pack file (no database)."""
    data, lines = parse(path)
    v = _V(path, lines)
    top = v.mapping(data, "", FORMAT_KEYS, ("pack", "version", "name"))
    code = v.slug(top["pack"], "pack")
    version = v.integer(top["version"], "version", minimum=1)
    categories = [v.category(c, f"categories[{i}]") for i, c in enumerate(v.listing(top.get("categories"),
                                                                                   "categories"))]
    codes = [c["code"] for c in categories]
    for i, c in enumerate(codes):
        if c in codes[:i]:
            raise v.fail(f"categories[{i}].code", f"duplicate category {c!r}")
    rules = [v.rule(r, f"rules[{i}]", i + 1) for i, r in enumerate(v.listing(top.get("rules"), "rules"))]
    names = [r["name"] for r in rules]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise v.fail(f"rules[{i}].name", f"duplicate rule {n!r}")
    forms = []
    for i, raw in enumerate(v.listing(top.get("forms"), "forms")):
        p = f"forms[{i}]"
        f = v.mapping(raw, p, {"name", "title", "category", "fields"}, ("name", "title", "category"))
        if f["category"] not in codes:
            raise v.fail(f"{p}.category", "a form belongs to a category of this pack")
        anonymous = next(c for c in categories if c["code"] == f["category"])["flags"]["anonymous"]
        forms.append({"name": v.slug(f["name"], f"{p}.name"), "title": v.text(f["title"], f"{p}.title", max_length=80),
                      "category": f["category"], "fields": v.fields(f.get("fields"), f"{p}.fields",
                                                                    anonymous=anonymous)})
    panel = v.panel(top["panel"], "panel", set(codes)) if top.get("panel") is not None else {}
    if not categories and not rules:
        raise v.fail("(top)", "a pack adds at least one category or one rule")
    return Pack(code=code, version=version, name=v.text(top["name"], "name", max_length=80),
                name_en=v.text(top.get("name_en"), "name_en", max_length=120, required=False),
                description=v.text(top.get("description"), "description", max_length=2000, required=False),
                categories=categories, rules=rules, forms=forms, panel=panel, path=path, lines=lines)


def load_dir(directory: Path) -> dict[str, Pack]:
    """Every pack of a directory, cross-checked: unique pack codes, category codes and rule names, and every
    category a rule or panel names exists (built in or added by some pack)."""
    packs: dict[str, Pack] = {}
    owner_of_category: dict[str, str] = {}
    owner_of_rule: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        pack = load_file(path)
        if pack.code in packs:
            raise pack.error("pack", f"the pack code {pack.code!r} is also used by {packs[pack.code].path.name}")
        for i, cat in enumerate(pack.categories):
            if cat["code"] in owner_of_category:
                raise pack.error(f"categories[{i}].code",
                                 f"the category {cat['code']!r} is also added by {owner_of_category[cat['code']]}")
            owner_of_category[cat["code"]] = pack.code
        for i, rule in enumerate(pack.rules):
            if rule["name"] in owner_of_rule:
                other = owner_of_rule[rule["name"]]
                raise pack.error(f"rules[{i}].name", f"the rule {rule['name']!r} is also in {other}")
            owner_of_rule[rule["name"]] = pack.code
        packs[pack.code] = pack
    known = SEED_LEAVES | set(owner_of_category)
    required = {leaf[0] for _c, _n, _e, leaves in seed.TREE for leaf in leaves if "d" in leaf[5]}
    required |= {c["code"] for p in packs.values() for c in p.categories
                 if any(f["required"] for f in p.category_fields(c["code"]))}
    for pack in packs.values():
        for i, rule in enumerate(pack.rules):
            target = rule.get("to_event", {}).get("category")
            if target and target not in known:
                raise pack.error(f"rules[{i}].to_event.category", f"no category {target!r} (built in or in a pack)")
            if target in required:
                raise pack.error(f"rules[{i}].to_event.category", f"the category {target!r} has required fields: "
                                 "an alert cannot fill them in")
            cats = rule["parameters"].get("categories") if rule["kind"] == "count_window" else None
            for j, code in enumerate(cats or []):
                if code not in known:
                    raise pack.error(f"rules[{i}].parameters.categories[{j}]", f"no category {code!r}")
        for i, metric in enumerate(pack.panel.get("metrics", [])):
            for j, code in enumerate(metric.get("events", [])):
                if code not in known:
                    raise pack.error(f"panel.metrics[{i}].events[{j}]", f"no category {code!r}")
    return packs


def pack_dir() -> Path:
    configured = getattr(settings, "SHANZHI_SCENARIO_DIR", "")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "scenarios"


@functools.cache
def _cached(directory: str) -> dict[str, Pack]:
    return load_dir(Path(directory))


def packs() -> dict[str, Pack]:
    """The built-in packs (loaded once per process; raises PackError when one is broken)."""
    return _cached(str(pack_dir()))
