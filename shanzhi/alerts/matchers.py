"""Label matchers and fingerprints, as Alertmanager defines them.

A matcher is ``{"name", "value", "isRegex", "isEqual"}`` (the v2 API's shape).  Regular expressions are anchored
(``^(?:value)$``).  The filter syntax of ``GET /api/v2/alerts?filter=…`` and ``amtool`` is ``name="value"``,
``name!="value"``, ``name=~"regex"``, ``name!~"regex"`` (quotes optional for simple values; a ``{…}`` around a
comma-separated list is accepted too).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_FILTER_RE = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s,{}]*))\s*$')
MAX_LABELS = 64
MAX_LABEL_VALUE = 1024


class MatcherError(ValueError):
    """A matcher or label set that is not well formed."""


def fingerprint(labels: Mapping[str, str]) -> str:
    """sha256 over the sorted label pairs (each name and value followed by a 0xff byte, as Alertmanager
    separates them), hashed in one call."""
    return hashlib.sha256(b"".join(
        name.encode() + b"\xff" + str(labels[name]).encode() + b"\xff" for name in sorted(labels))).hexdigest()


_GROUP_KEYS: dict[tuple[tuple[str, ...], tuple[Any, ...]], str] = {}


def group_key(labels: Mapping[str, str], by: Iterable[str]) -> str:
    """The aggregation group of an alert: the values of the ``by`` labels (``{}`` when none are set)."""
    names = by if isinstance(by, tuple) else tuple(by)
    values = tuple(labels.get(name, "") for name in names)
    key = _GROUP_KEYS.get((names, values))
    if key is None:
        key = json.dumps(dict(zip(names, values, strict=True)), sort_keys=True, ensure_ascii=False)
        if len(_GROUP_KEYS) > 10000:
            _GROUP_KEYS.clear()
        _GROUP_KEYS[(names, values)] = key
    return key


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(f"^(?:{pattern})$")
    except re.error as exc:
        raise MatcherError(f"invalid regular expression {pattern!r}: {exc}") from None


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def matches(self, labels: Mapping[str, Any]) -> bool:
        actual = str(labels.get(self.name, ""))
        hit = bool(_compiled(self.value).match(actual)) if self.is_regex else actual == self.value
        return hit if self.is_equal else not hit

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}

    def __str__(self) -> str:
        op = ("=~" if self.is_regex else "=") if self.is_equal else ("!~" if self.is_regex else "!=")
        return f'{self.name}{op}"{self.value}"'


def from_dict(data: Any) -> Matcher:
    if not isinstance(data, dict):
        raise MatcherError("a matcher must be an object with name, value, isRegex")
    name, value = data.get("name"), data.get("value")
    if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
        raise MatcherError(f"invalid matcher name {name!r}")
    if not isinstance(value, str):
        raise MatcherError(f"matcher {name}: value must be a string")
    is_regex, is_equal = data.get("isRegex", False), data.get("isEqual", True)
    if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
        raise MatcherError(f"matcher {name}: isRegex and isEqual must be true or false")
    if is_regex:
        _compiled(value)
    return Matcher(name, value, is_regex, is_equal)


def from_dicts(items: Any) -> list[Matcher]:
    if not isinstance(items, list) or not items:
        raise MatcherError("matchers must be a non-empty list")
    return [from_dict(item) for item in items]


def parse(text: str) -> list[Matcher]:
    """Parse filter syntax: one matcher, or several inside ``{…}`` separated by commas."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    parts = [p for p in _split(body) if p.strip()]
    if not parts:
        raise MatcherError(f"bad matcher format: {text!r}")
    result = []
    for part in parts:
        found = _FILTER_RE.match(part)
        if not found:
            raise MatcherError(f"bad matcher format: {part!r}")
        name, op, quoted, bare = found.groups()
        value = bytes(quoted, "utf-8").decode("unicode_escape") if quoted is not None else bare
        matcher = Matcher(name, value, is_regex=op in ("=~", "!~"), is_equal=op in ("=", "=~"))
        if matcher.is_regex:
            _compiled(value)
        result.append(matcher)
    return result


def _split(body: str) -> list[str]:
    parts, current, quoted, escaped = [], [], False, False
    for ch in body:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\":
            escaped = True
            current.append(ch)
            continue
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, Any]) -> bool:
    return all(m.matches(labels) for m in matchers)


_GOOD_NAMES: set[str] = set()  # label names already found valid (a fleet uses few)


def validate_labels(labels: Any, *, what: str = "labels") -> dict[str, str]:
    """Label sets: a non-empty object of valid names to string values."""
    if not isinstance(labels, dict) or not labels:
        raise MatcherError(f"{what} must be a non-empty object")
    if len(labels) > MAX_LABELS:
        raise MatcherError(f"{what}: at most {MAX_LABELS} labels")
    clean: dict[str, str] = {}
    for name, value in labels.items():
        if name not in _GOOD_NAMES:
            if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
                raise MatcherError(f"invalid label name {name!r}")
            if len(_GOOD_NAMES) < 10000:
                _GOOD_NAMES.add(name)
        if not isinstance(value, str):
            raise MatcherError(f"label {name}: value must be a string")
        if len(value) > MAX_LABEL_VALUE:
            raise MatcherError(f"label {name}: value longer than {MAX_LABEL_VALUE} characters")
        if value:
            clean[name] = value
    if not clean:
        raise MatcherError(f"{what} must have at least one non-empty label")
    return clean
