"""Strict, typed configs: a mapping (from YAML or JSON) becomes a dataclass or a clear error.

One loader for the training YAML and a model directory's ``config.json``, so
both reject the same mistakes the same way: an unknown key (a typo would
otherwise be silently dropped), a value of the wrong type, a failed
``__post_init__`` check. Each message names where the value is: ``file:line``
for YAML, ``file: key.path`` for JSON.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import yaml

T = TypeVar("T")
KeyPath = tuple[str, ...]


class ConfigError(ValueError):
    """A config value is missing, unknown or of the wrong type; the message says where."""


class Locator:
    """Turns a key path into ``file:line`` (YAML) or ``file: a.b.c`` (no line information)."""

    def __init__(self, source: str, lines: Mapping[KeyPath, int] | None = None) -> None:
        self.source = source
        self.lines = dict(lines or {})

    def __call__(self, path: KeyPath) -> str:
        dotted = ".".join(path) or "(top level)"
        for depth in range(len(path), -1, -1):
            line = self.lines.get(path[:depth])
            if line is not None:
                return f"{self.source}:{line}: {dotted}"
        return f"{self.source}: {dotted}"


def yaml_with_lines(text: str, source: str) -> tuple[Any, Locator]:
    """Parse YAML and remember the line of every mapping key (1-based)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(f"{source}:{mark.line + 1 if mark else 0}: YAML syntax error: {exc.problem or exc}") from exc
    lines: dict[KeyPath, int] = {(): 1}

    def walk(node: yaml.Node, path: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = path + (str(key.value),)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)

    if root is not None:
        walk(root, ())
    return data, Locator(source, lines)


def load_yaml_config(path: Path, cls: type[T]) -> T:
    """Read a YAML file into dataclass ``cls``; every error names the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from exc
    data, where = yaml_with_lines(text, str(path))
    return from_mapping(cls, data, where)


def from_mapping(cls: type[T], data: Any, where: Callable[[KeyPath], str], path: KeyPath = ()) -> T:
    """Build dataclass ``cls`` from ``data``, checking keys and types recursively."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where(path)}: expected a mapping, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where(path + (str(unknown[0]),))}: unknown key {unknown[0]!r}; "
                          f"known keys: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], where, path + (name,))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where(path)}: missing key {name!r}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where(path)}: {exc}") from exc


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _convert(tp: Any, value: Any, where: Callable[[KeyPath], str], path: KeyPath) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, where, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{where(path)}: {value!r} fits none of {', '.join(getattr(o, '__name__', str(o)) for o in options)}")
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, where, path)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where(path)}: expected true or false, got {_kind(value)} {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where(path)}: expected an integer, got {_kind(value)} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where(path)}: expected a number, got {_kind(value)} {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where(path)}: expected a string, got {_kind(value)} {value!r}")
        return value
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where(path)}: expected a list, got {_kind(value)}")
        item = args[0] if args else Any
        items = [_convert(item, v, where, path + (str(i),)) for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where(path)}: expected a mapping, got {_kind(value)}")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(vt, v, where, path + (str(k),)) for k, v in value.items()}
    raise TypeError(f"config type {tp!r} is not supported")  # a programming error, not a user one


def to_plain(obj: Any) -> Any:
    """A dataclass tree as JSON-able dicts and lists (the inverse of `from_mapping`)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj
