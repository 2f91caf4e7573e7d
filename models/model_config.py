"""The ``config.json`` of a model directory, as a typed object.

It records everything that changes a prediction: encoder settings, label
order, thresholds, how network and rules are combined (with the vote
constants), the summary budget, and a digest of the taxonomy and rules the
model was calibrated with, so that running it with other rules is noticed.
Model directories written before this format are migrated in one place,
`migrate_model_config`, with a deprecation warning.
"""
from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .encoder_settings import EncoderSettings
from .evidence import RULE_EVIDENCE, VoteSettings
from .taxonomy import NON_HEALTH
from .typed_config import ConfigError, Locator, from_mapping, to_plain

MODEL_FORMAT = "healthtag-model/1"
# which encoder a model directory runs: its fast path where it has one (auto), or the one named
RUNTIMES = ("auto", "full", "fast")
COMBINE_RULES = ("max", "max_rules_gate", "max_network_gate", "max_mean_gate", "network", "mean")

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """The directory is not a usable healthtag model; the message says why."""


@dataclass(frozen=True)
class CombineSettings:
    """How the network's probabilities and the rules' evidence become one score per label.

    ``combine``: ``max_rules_gate`` (topics: the larger of the two; health gate:
    the rules'), ``max_network_gate`` (the same topics; health gate: the
    network's), ``max_mean_gate`` (the same topics; health gate: the mean of
    both), ``max`` (gate from the maximum too), ``mean``, or ``network``.
    ``rule_evidence``: ``graded_vote`` or the flat ``weighted_vote``.
    ``rules_alone_weight``: in the ``max`` rules, the rule evidence of a topic
    the article mentions only in passing (graded vote below the flat vote:
    fewer mentioning sentences than ``votes.full_vote_mentions``) is scaled by
    ``a + (1 - a) * p`` before the maximum, p being the network's probability
    for that topic: at 1 a rule hit passes whatever the network says (so every
    passing-mention false positive reaches the threshold at full strength);
    below 1 such a hit scores lower unless the network shares it, and the
    topic's calibrated threshold decides how much agreement it needs. Topics
    the article dwells on keep their whole vote. No effect with the flat
    ``weighted_vote`` evidence, which has no notion of a passing mention.
    """

    combine: str = "max_rules_gate"
    rule_evidence: str = "graded_vote"
    votes: VoteSettings = field(default_factory=VoteSettings)
    rules_alone_weight: float = 1.0

    def weighting_note(self) -> str:
        """How passing mentions are weighted, in the words evaluation notes and model cards use ('' at weight 1)."""
        a = self.rules_alone_weight
        if a >= 1.0:
            return ""
        return (f"the rule evidence of passing mentions scaled by {a:g} + {1 - a:g} x the network's probability "
                "(passing: graded vote below the flat vote; `rules_alone_weight`)")

    def __post_init__(self) -> None:
        if self.combine not in COMBINE_RULES:
            raise ValueError(f"combine must be one of {COMBINE_RULES}, not {self.combine!r}")
        if not 0.0 <= self.rules_alone_weight <= 1.0:
            raise ValueError(f"rules_alone_weight must be within [0, 1], not {self.rules_alone_weight!r}")
        if self.rule_evidence not in RULE_EVIDENCE:
            raise ValueError(f"rule_evidence must be one of {RULE_EVIDENCE}, not {self.rule_evidence!r}")


@dataclass(frozen=True)
class SummaryBudget:
    """Length budget of an extractive abstract (characters) and the MMR redundancy weight."""

    min_chars: int = 60
    max_chars: int = 150
    redundancy: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.min_chars <= self.max_chars:
            raise ValueError("summary budget needs 0 < min_chars <= max_chars")


@dataclass
class HeadsShape:
    hidden: int
    n_outputs: int
    head_hidden: int = 256


@dataclass
class FastPath:
    """The fast runtime of a model directory: a shallow encoder distilled from the full one.

    It shares the model's heads, thresholds and combination, so it is the same model run
    cheaper; ``recipe`` records how it was distilled and ``validation`` how closely it
    reproduces the full path (agreement on unlabeled articles, gold figures, speed), with
    the CPU and arithmetic each figure was measured on.
    """

    encoder: EncoderSettings
    recipe: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    # added to the student's document logits so that on unlabeled pool articles they average
    # the full path's (`training/student_offset.py`); empty = no correction
    doc_logit_offset: dict[str, float] = field(default_factory=dict)


@dataclass
class ModelConfig:
    """A model directory's ``config.json``."""

    name: str
    encoder: EncoderSettings
    labels: list[str]
    thresholds: dict[str, float]
    heads: HeadsShape
    combination: CombineSettings = field(default_factory=CombineSettings)
    format: str = MODEL_FORMAT
    label_names: dict[str, str] = field(default_factory=dict)
    network_thresholds: dict[str, float] = field(default_factory=dict)
    evidence_thresholds: dict[str, float] = field(default_factory=dict)
    summary: SummaryBudget = field(default_factory=SummaryBudget)
    taxonomy_digest: str | None = None
    calibration: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    fast: FastPath | None = None

    def __post_init__(self) -> None:
        if self.format != MODEL_FORMAT:
            raise ValueError(f"format {self.format!r}, expected {MODEL_FORMAT!r}")
        if not self.labels or self.labels[-1] != NON_HEALTH:
            raise ValueError(f"labels must end with {NON_HEALTH!r} (the health gate column)")
        if self.heads.n_outputs != len(self.labels):
            raise ValueError(f"heads.n_outputs is {self.heads.n_outputs} but there are {len(self.labels)} labels")

    def to_dict(self) -> dict:
        return to_plain(self)


def migrate_model_config(raw: dict, source: str) -> dict:
    """Bring a ``config.json`` from an older healthtag into today's shape (the one place that knows history)."""
    raw = json.loads(json.dumps(raw))
    changes = []
    encoder = raw.get("encoder")
    if isinstance(encoder, dict):
        if "quantize_int8" in encoder:
            flag = encoder.pop("quantize_int8")
            encoder.setdefault("precision", "int8" if flag else "fp32")
            changes.append("encoder.quantize_int8 → encoder.precision")
        if "allow_pickle" in encoder:
            encoder.pop("allow_pickle")
            warnings.warn(f"{source}: encoder.allow_pickle ignored: a model directory cannot enable pickle "
                          "loading; pass allow_pickle=True (or --allow-pickle) if you trust it", UserWarning,
                          stacklevel=3)
    if "combination" not in raw and ("combine" in raw or "rule_evidence" in raw or "heads" in raw):
        raw["combination"] = {
            # before `combine` existed models took the maximum; before `rule_evidence`, the flat vote
            "combine": raw.pop("combine", "max"),
            "rule_evidence": raw.pop("rule_evidence", "weighted_vote"),
            "votes": {"sharpness": 3.0, "headline_mentions": 2, "full_vote_mentions": 3},
        }
        changes.append("combine/rule_evidence → combination (with the vote constants of that release)")
    if changes:
        warnings.warn(f"{source}: model config from an older healthtag, read with: {'; '.join(changes)}. "
                      "Retrain or re-save it to silence this warning.", DeprecationWarning, stacklevel=3)
    return raw


def read_model_config(directory: Path) -> ModelConfig:
    """The typed config of a model directory, or `ModelLoadError` saying what is wrong."""
    directory = Path(directory)
    path = directory / "config.json"
    if not directory.is_dir():
        raise ModelLoadError(f"{directory}: no such model directory")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read ({exc.strerror})") from exc
    except ValueError as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("format") != MODEL_FORMAT:
        got = raw.get("format") if isinstance(raw, dict) else None
        raise ModelLoadError(f"{path}: format {got!r}, expected {MODEL_FORMAT!r}")
    try:
        config = from_mapping(ModelConfig, migrate_model_config(raw, str(path)), Locator(str(path)))
    except ConfigError as exc:
        raise ModelLoadError(str(exc)) from exc
    config.encoder = config.encoder.relative_to(directory)
    if config.fast is not None:
        config.fast.encoder = config.fast.encoder.relative_to(directory)
    return config


def write_model_config(directory: Path, config: ModelConfig) -> None:
    """Write ``config.json`` (paths of files inside the directory relative to it), replacing it atomically."""
    data = config.to_dict()
    for encoder in (data["encoder"], (data.get("fast") or {}).get("encoder") or {}):
        for name in ("kept_vocab", "tuned_layers"):
            value = encoder.get(name)
            if value and Path(value).parent.resolve() == Path(directory).resolve():
                encoder[name] = Path(value).name
    tmp = Path(directory) / "config.json.tmp"
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(Path(directory) / "config.json")
