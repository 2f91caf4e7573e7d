"""Tests of models.typed_config: strict dataclass configs with file:line messages."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from healthtag.models.typed_config import (
    ConfigError,
    Locator,
    from_mapping,
    to_plain,
    yaml_with_lines,
)


@dataclass
class Inner:
    rate: float = 0.5
    names: list[str] = field(default_factory=list)


@dataclass
class Outer:
    name: str
    inner: Inner = field(default_factory=Inner)
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must be >= 0")


def load(text: str) -> Outer:
    data, where = yaml_with_lines(text, "c.yaml")
    return from_mapping(Outer, data, where)


def test_round_trip_and_defaults():
    cfg = load("name: a\ninner:\n  rate: 1\n  names: [x, y]\n")
    assert cfg == Outer("a", Inner(1.0, ["x", "y"]))
    assert to_plain(cfg) == {"name": "a", "inner": {"rate": 1.0, "names": ["x", "y"]}, "limit": None}


@pytest.mark.parametrize("text, message", [
    ("name: a\ninner:\n  rtae: 1\n", "c.yaml:3: inner.rtae: unknown key 'rtae'"),
    ("name: a\ninner:\n  rate: fast\n", "c.yaml:3: inner.rate: expected a number"),
    ("name: a\nlimit: 2.5\n", "c.yaml:2: limit: expected an integer, got float 2.5"),
    ("name: a\nlimit: -1\n", "c.yaml:1: (top level): limit must be >= 0"),
    ("inner: {}\n", "missing key 'name'"),
    ("name: [a\n", "YAML syntax error"),
    ("name: a\ninner: 3\n", "c.yaml:2: inner: expected a mapping"),
])
def test_errors_name_file_line_and_key(text, message):
    with pytest.raises(ConfigError) as info:
        load(text)
    assert message in str(info.value)


def test_json_locator_names_the_key_path():
    with pytest.raises(ConfigError, match=r"config.json: inner.names.1: expected a string"):
        from_mapping(Outer, {"name": "a", "inner": {"names": ["x", 3]}}, Locator("config.json"))
