"""Loading and validating the taxonomy + labeling-function config (configs/taxonomy.yaml).

Analysts edit this file by hand, so every error says which file and line is
wrong and why, instead of failing later with a KeyError inside the rule engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

RULE_KINDS = ("keywords", "regex", "cooccur", "title", "veto", "density")
SCOPES = ("title", "lead", "body")
NON_HEALTH = "non_health"


class TaxonomyError(ValueError):
    """A config error; the message starts with `file:line:`."""


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    kind: str
    scope: tuple[str, ...]
    weight: float = 1.0
    min_hits: int = 1
    vote: int = 1
    terms: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    groups: tuple[tuple[str, ...], ...] = ()
    below: float | None = None
    above: float | None = None
    line: int = 0


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    definition: str
    threshold: float
    rules: tuple[Rule, ...]


@dataclass
class Taxonomy:
    labels: list[Label]  # topic labels, in config order
    non_health: Label
    source: str = ""
    by_id: dict[str, Label] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {lab.id: lab for lab in self.all_labels}

    @property
    def all_labels(self) -> list[Label]:
        return [*self.labels, self.non_health]

    @property
    def label_ids(self) -> list[str]:
        return [lab.id for lab in self.labels]

    @property
    def rules(self) -> list[Rule]:
        return [r for lab in self.all_labels for r in lab.rules]

    def name_of(self, label_id: str) -> str:
        return self.by_id[label_id].name


# ---------------------------------------------------------------- YAML with line numbers


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the 1-based line of every mapping under `__line__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _err(src: str, line: int, msg: str) -> TaxonomyError:
    return TaxonomyError(f"{src}:{line}: {msg}")


def _str_list(value: Any, src: str, line: int, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise _err(src, line, f"{what} must be a non-empty list of strings")
    out = []
    for v in value:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str) or not v.strip():
            raise _err(src, line, f"{what} contains an empty or non-string entry: {v!r}")
        out.append(v.strip())
    return tuple(out)


def _number(value: Any, src: str, line: int, what: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _err(src, line, f"{what} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise _err(src, line, f"{what} must be >= {minimum}, got {value}")
    return float(value)


_RULE_KEYS = {"name", "kind", "terms", "pattern", "groups", "scope", "weight", "min_hits", "vote", "below", "above", "__line__"}


def _parse_rule(raw: Any, label: str, src: str, parent_line: int, seen: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise _err(src, parent_line, f"label '{label}': each rule must be a mapping")
    line = raw.get("__line__", parent_line)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _err(src, line, f"label '{label}': rule without a name")
    if name in seen:
        raise _err(src, line, f"rule '{name}': duplicate rule name")
    seen.add(name)
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise _err(src, line, f"rule '{name}': unknown field(s) {sorted(unknown)}")
    kind = raw.get("kind")
    if kind not in RULE_KINDS:
        raise _err(src, line, f"rule '{name}': unknown kind {kind!r} (expected one of {', '.join(RULE_KINDS)})")
    default_scope = ["title"] if kind == "title" else ["title", "body"]
    scope_raw = raw.get("scope", default_scope)
    if isinstance(scope_raw, str):
        scope_raw = [scope_raw]
    if not isinstance(scope_raw, list) or not scope_raw or any(s not in SCOPES for s in scope_raw):
        raise _err(src, line, f"rule '{name}': scope must be a list of {', '.join(SCOPES)}, got {scope_raw!r}")
    if kind == "title" and scope_raw != ["title"]:
        raise _err(src, line, f"rule '{name}': a title rule has scope [title] only")
    weight = _number(raw.get("weight", 1.0), src, line, f"rule '{name}': weight", minimum=0.0)
    min_hits = raw.get("min_hits", 1)
    if isinstance(min_hits, bool) or not isinstance(min_hits, int) or min_hits < 1:
        raise _err(src, line, f"rule '{name}': min_hits must be an integer >= 1, got {min_hits!r}")
    vote = -1 if kind == "veto" else raw.get("vote", 1)
    if vote not in (1, -1):
        raise _err(src, line, f"rule '{name}': vote must be 1 or -1, got {vote!r}")
    terms: tuple[str, ...] = ()
    pattern = None
    groups: tuple[tuple[str, ...], ...] = ()
    below = above = None
    if kind in ("keywords", "title", "veto", "density"):
        terms = _str_list(raw.get("terms"), src, line, f"rule '{name}': terms")
    if kind == "regex":
        pat = raw.get("pattern")
        if not isinstance(pat, str) or not pat:
            raise _err(src, line, f"rule '{name}': regex rule needs a pattern")
        try:
            pattern = re.compile(pat)
        except re.error as exc:
            raise _err(src, line, f"rule '{name}': bad regular expression: {exc}") from exc
    if kind == "cooccur":
        raw_groups = raw.get("groups")
        if not isinstance(raw_groups, list) or len(raw_groups) < 2:
            raise _err(src, line, f"rule '{name}': cooccur rule needs at least two keyword groups")
        groups = tuple(_str_list(g, src, line, f"rule '{name}': group") for g in raw_groups)
    if kind == "density":
        b, a = raw.get("below"), raw.get("above")
        if (b is None) == (a is None):
            raise _err(src, line, f"rule '{name}': density rule needs exactly one of below/above")
        below = _number(b, src, line, f"rule '{name}': below", 0.0) if b is not None else None
        above = _number(a, src, line, f"rule '{name}': above", 0.0) if a is not None else None
    return Rule(
        name=name, label=label, kind=kind, scope=tuple(scope_raw), weight=weight, min_hits=min_hits,
        vote=vote, terms=terms, pattern=pattern, groups=groups, below=below, above=above, line=line,
    )


def _parse_label(raw: Any, src: str, line: int, default_threshold: float, seen_rules: set[str]) -> Label:
    if not isinstance(raw, dict):
        raise _err(src, line, "each label must be a mapping with id, name, rules")
    line = raw.get("__line__", line)
    lid = raw.get("id")
    if not isinstance(lid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", lid or ""):
        raise _err(src, line, f"label id must be lower_snake_case, got {lid!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _err(src, line, f"label '{lid}': missing display name")
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise _err(src, line, f"label '{lid}': needs at least one rule")
    rules = tuple(_parse_rule(r, lid, src, line, seen_rules) for r in rules_raw)
    if not any(r.vote > 0 for r in rules):
        raise _err(src, line, f"label '{lid}': has only veto rules, so it can never fire")
    threshold = _number(raw.get("threshold", default_threshold), src, line, f"label '{lid}': threshold", 0.0)
    return Label(id=lid, name=name, definition=str(raw.get("definition", "")), threshold=threshold, rules=rules)


def parse_taxonomy(text: str, source: str = "<taxonomy>") -> Taxonomy:
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise _err(source, line, f"YAML syntax error: {exc.problem or exc}") from exc
    if not isinstance(doc, dict):
        raise _err(source, 1, "expected a mapping with 'labels' and 'non_health'")
    default_threshold = _number(doc.get("default_threshold", 1.0), source, doc["__line__"], "default_threshold", 0.0)
    labels_raw = doc.get("labels")
    if not isinstance(labels_raw, list) or not labels_raw:
        raise _err(source, doc["__line__"], "'labels' must be a non-empty list")
    seen_rules: set[str] = set()
    labels = [_parse_label(r, source, doc["__line__"], default_threshold, seen_rules) for r in labels_raw]
    ids = [lab.id for lab in labels]
    for i, lid in enumerate(ids):
        if lid in ids[:i]:
            raise _err(source, labels_raw[i]["__line__"], f"duplicate label id '{lid}'")
        if lid == NON_HEALTH:
            raise _err(source, labels_raw[i]["__line__"], "'non_health' is configured under the top-level 'non_health' key")
    nh_raw = doc.get("non_health")
    if nh_raw is None:
        raise _err(source, doc["__line__"], "missing 'non_health' section (the health/non-health gate)")
    if isinstance(nh_raw, dict):
        nh_raw.setdefault("id", NON_HEALTH)
        nh_raw.setdefault("name", "非卫生健康类")
    non_health = _parse_label(nh_raw, source, doc["__line__"], default_threshold, seen_rules)
    if non_health.id != NON_HEALTH:
        raise _err(source, nh_raw.get("__line__", 0), "the non_health section must have id 'non_health'")
    return Taxonomy(labels=labels, non_health=non_health, source=source)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The taxonomy at `path`, or the bundled default (configs/taxonomy.yaml)."""
    if path is None:
        res = files("healthtag.configs").joinpath("taxonomy.yaml")
        return parse_taxonomy(res.read_text(encoding="utf-8"), source="configs/taxonomy.yaml")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"{path}:0: cannot read taxonomy ({exc.strerror or exc})") from exc
    return parse_taxonomy(text, source=str(path))


def model_taxonomy(model_dir: str | Path | None, explicit: str | Path | None = None) -> Taxonomy:
    """The rules to score a model with: ``explicit`` when the user names one, else the copy the model folder keeps
    (trained on another taxonomy), else the bundled one. Thresholds and heads mean nothing under other rules."""
    from healthtag.resources import model_taxonomy_path

    return load_taxonomy(explicit if explicit is not None else model_taxonomy_path(model_dir))


def taxonomy_digest(taxonomy: Taxonomy) -> str:
    """A short hash of everything in a taxonomy that changes a prediction (ids, names, thresholds, rules).

    Definitions and line numbers are left out: rewording a definition or
    moving a rule in the file does not change what the rules do.
    """
    import hashlib
    import json

    def rule(r: Rule) -> list:
        return [r.name, r.label, r.kind, list(r.scope), r.weight, r.min_hits, r.vote, list(r.terms),
                r.pattern.pattern if r.pattern is not None else None, [list(g) for g in r.groups], r.below, r.above]

    payload = [[lab.id, lab.name, lab.threshold, [rule(r) for r in lab.rules]] for lab in taxonomy.all_labels]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
