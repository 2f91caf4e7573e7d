"""The ``distill:`` section of a training config, kept free of torch.

It lives apart from ``distill.py`` so that the training config can name it
without importing the distillation code (which imports the config for its
command line).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from healthtag.models.encoder_settings import FALLBACKS

DOC_LOSSES = ("logit_mse", "bernoulli_kl")
TEACHER_HEADS = ("model", "label_model")


@dataclass
class DistillConfig:
    """The ``distill:`` section of a training config: how the fast path's student is made."""

    layers_from: list[int] = field(default_factory=lambda: [0, 6])   # teacher layers the student starts from
    ffn_size: int | None = None   # feed-forward neurons each student layer keeps (None: all of the teacher's)
    windows: int = 12000          # teacher windows sampled from the pool (the student's training set)
    steps: int = 2500
    batch_windows: int = 16
    lr: float = 3e-4
    warmup: int = 50              # steps of linearly rising learning rate, then linear decay
    rank_weight: float = 0.0      # weight of the listwise term: the sentence head's ranking within each window
    doc_loss: str = "logit_mse"   # the document head term: squared logit error, or "bernoulli_kl" (probability space)
    first_window_share: float = 0.0   # share of the windows drawn from articles' first windows (title and lead)
    source_weights: dict[str, float] = field(default_factory=dict)   # article source prefix -> how much likelier
                                                                      # its windows are drawn (1 for the rest)
    check_articles: int = 200     # pool articles kept out of training, for the agreement check
    gate_offset_articles: int = 400   # training-pool articles the gate's logit offset is measured on (0: none;
                                      # training/student_offset.py)
    fallback: str = "fp32"        # the fast path's arithmetic where bf16 is not native: fp32 or int8
    seed: int = 13                # the window sample and the check split
    student_seed: int | None = None   # the student's batch order; None = ``seed``. Apart from ``seed`` so that
                                      # students of one recipe can be compared on the same windows and check articles
    teacher_heads: str = "model"  # whose logits the student learns: the model's heads, or "label_model": heads trained
                                  # the same way on the label model's own targets (training/teacher_heads.py)

    def __post_init__(self) -> None:
        if not self.layers_from or any(i < 0 for i in self.layers_from):
            raise ValueError("distill.layers_from must list teacher layer indices (>= 0)")
        if self.ffn_size is not None and self.ffn_size < 1:
            raise ValueError(f"distill.ffn_size must be >= 1 (or absent), not {self.ffn_size}")
        for name in ("windows", "steps", "batch_windows", "check_articles"):
            if getattr(self, name) < 1:
                raise ValueError(f"distill.{name} must be >= 1, not {getattr(self, name)}")
        if self.gate_offset_articles < 0:
            raise ValueError(f"distill.gate_offset_articles must be >= 0, not {self.gate_offset_articles}")
        if self.lr <= 0 or self.warmup < 0:
            raise ValueError("distill.lr must be > 0 and distill.warmup >= 0")
        if not 0.0 <= self.first_window_share <= 1.0:
            raise ValueError(f"distill.first_window_share must be within [0, 1], not {self.first_window_share}")
        if any(not isinstance(w, (int, float)) or w <= 0 for w in self.source_weights.values()):
            raise ValueError(f"distill.source_weights must map source prefixes to weights > 0, not {self.source_weights}")
        if self.rank_weight < 0:
            raise ValueError(f"distill.rank_weight must be >= 0, not {self.rank_weight}")
        if self.doc_loss not in DOC_LOSSES:
            raise ValueError(f"distill.doc_loss must be one of {DOC_LOSSES}, not {self.doc_loss!r}")
        if self.teacher_heads not in TEACHER_HEADS:
            raise ValueError(f"distill.teacher_heads must be one of {TEACHER_HEADS}, not {self.teacher_heads!r}")
        if self.fallback not in FALLBACKS:
            raise ValueError(f"distill.fallback must be one of {FALLBACKS}, not {self.fallback!r}")

    @property
    def batch_seed(self) -> int:
        """The seed of the student's batch order, resolved on use so that a changed ``seed`` carries over."""
        return self.seed if self.student_seed is None else self.student_seed
