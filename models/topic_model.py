"""A trained healthtag model directory: load it, run its network, save it.

Layout of ``models/<name>/``::

    config.json          typed `ModelConfig`: encoder settings, labels, thresholds,
                         combination (with vote constants), summary budget, taxonomy digest
    heads.safetensors    document + sentence heads
    tuned_layers.safetensors  the encoder's fine-tuned top layers (only when the recipe tunes them)
    kept_vocab.json      trimmed vocabulary; tokenizer.json the matching trimmed tokenizer
    MODEL_CARD.md, eval.json

This module only runs the network (encoder + heads). Turning its output and
the rules into scores and decisions is `healthtag.models.scoring`, the one
path that serving, evaluation and calibration share.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from healthtag.text.article import Article

from .allocator import keep_freed_buffers
from .chunking import ArticleTokens, tokenize_article, tokens_in_windows
from .model_config import (  # noqa: F401 - re-exported
    MODEL_FORMAT,
    RUNTIMES,
    ModelConfig,
    ModelLoadError,
    read_model_config,
    write_model_config,
)
from .multitask import MultiTaskHeads, PooledArticle, position_features
from .runtime import EncoderSettings, build_article_encoder, describe_precision, resolve_precision


TUNED_LAYERS_FILE = "tuned_layers.safetensors"
FAST_LAYERS_FILE = "fast_layers.safetensors"


def choose_runtime(config: ModelConfig, requested: str = "auto") -> str:
    """``full`` or ``fast``: ``auto`` takes the fast path wherever the model directory has one.

    The fast path is validated against the full one when it is made (its record sits in
    ``config.fast.validation``), so it is the default; ``full`` remains for checking it.
    """
    if requested not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, not {requested!r}")
    if requested == "fast" and config.fast is None:
        raise ModelLoadError("this model directory has no fast path (distil one with "
                             "python -m healthtag.training.distill)")
    if requested == "auto":
        return "fast" if config.fast is not None else "full"
    return requested


@dataclass
class NetworkOutput:
    """The network's output for a batch: label probabilities and per-article sentence salience."""

    doc: np.ndarray                 # [N, L] probabilities, label order = config labels
    sentence: list[np.ndarray]      # per article [S_i]


class TopicSummaryModel:
    """Encoder + heads + settings of one model directory."""

    def __init__(self, directory: Path, config: ModelConfig, heads: MultiTaskHeads, tokenizer, encoder,
                 runtime: str = "full", precision_override: str | None = None) -> None:
        self.directory = directory
        self.precision_override = precision_override   # arithmetic the caller asked for instead of the config's
        self.config = config
        self.heads = heads
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.runtime = runtime
        self._offset = self._doc_logit_offset()

    @property
    def settings(self) -> EncoderSettings:
        """The encoder this instance runs: the full one, or the fast path's distilled one."""
        return self.config.fast.encoder if self.runtime == "fast" else self.config.encoder

    @property
    def runtime_note(self) -> str:
        """One line: which runtime path runs, why, and in which arithmetic (with what the model directory
        recorded about that arithmetic when the caller chose it)."""
        if self.precision_override in ("fp32", "int8"):
            return f"{self.runtime_path}; {self._validation_note()}"
        hint = self._int8_hint()
        return f"{self.runtime_path}; {hint}" if hint else self.runtime_path

    def _int8_hint(self) -> str | None:
        """Where the fast path fell back to fp32 on one encoder thread and the directory validated int8 too,
        name the faster option and its recorded price. Only on one thread: int8 encodes one window per call,
        so on two threads fp32's batched windows keep up with it (on a real AVX2-only Zen 3 two pairs of runs
        gave int8 0.92 and 1.15 times fp32's speed on two threads; README, Speed), and a hint that may slow
        the user down is worse than none."""
        import torch

        settings = self.settings
        if self.runtime != "fast" or resolve_precision(settings.precision, settings.fallback) != "fp32":
            return None
        if torch.get_num_threads() > 1:
            return None
        fp32, int8 = self._recorded_dev("fast/fp32"), self._recorded_dev("fast/int8")
        if fp32 is None or int8 is None:
            return None
        return (f"`--precision int8` runs faster on one thread without bf16, at dev ROUGE-L {int8[0]['rouge_l']:.3f} "
                f"and micro-F1 {int8[0]['micro_f1']:.3f} against fp32's {fp32[0]['rouge_l']:.3f} "
                f"and {fp32[0]['micro_f1']:.3f} (full path {int8[1]['rouge_l']:.3f}, {int8[1]['micro_f1']:.3f})")

    def _recorded_dev(self, key: str) -> tuple[dict, dict] | None:
        """(checked path's, full path's) dev figures of validation record ``key`` (``fast/int8``...), if recorded."""
        records = self.config.fast.validation if self.config.fast else {}
        gold = (records.get(key) or {}).get("gold") or {}
        path = key.split("/")[0]
        return (gold[path], gold["full"]) if path in gold and "full" in gold else None

    @property
    def runtime_path(self) -> str:
        """Which runtime path runs, why, and in which arithmetic (what a validation record names)."""
        settings = self.settings
        if self.runtime == "fast":
            full = self.config.fast.recipe.get("teacher_layers") or self.config.encoder.num_layers or "all"
            narrow = self.config.fast.recipe.get("ffn_size")
            width = f", {narrow}-neuron feed-forward blocks" if narrow else ""
            path = (f"fast path ({settings.num_layers}-layer encoder{width} distilled from the {full}-layer one; "
                    "`--runtime full` runs the full encoder)")
        else:
            path = f"full path ({settings.num_layers or 'all'}-layer encoder)"
        asked = "as requested" if self.precision_override else "as the model's config asks"
        return f"{path}; {describe_precision(settings.precision, settings.fallback, asked, settings.int8_layers)}"

    def _validation_note(self) -> str:
        """What the model directory recorded about this path in the requested arithmetic, so a user who
        trades accuracy for speed sees the price (fp32 computes bf16's vectors, so it counts as bf16's)."""
        precision = self.precision_override
        if precision == "fp32" and self.runtime == "full":
            return "bf16's vectors up to rounding"
        recorded = self._recorded_dev(f"{self.runtime}/{precision}")
        if recorded is None:
            return (f"not validated for this model (python -m healthtag.training.fast_check --precision {precision} "
                    "measures it)")
        ours, full = recorded
        return (f"validated on dev: micro-F1 {ours['micro_f1']:.3f}, ROUGE-L {ours['rouge_l']:.3f} "
                f"(full path {full['micro_f1']:.3f}, {full['rouge_l']:.3f})")

    @property
    def labels(self) -> list[str]:
        return list(self.config.labels)

    @classmethod
    def load(cls, directory: Path | str, *, allow_pickle: bool = False, runtime: str = "auto",
             precision: str | None = None) -> "TopicSummaryModel":
        """Open a model directory; ``runtime`` picks the full or the fast encoder (see `choose_runtime`).

        ``precision`` overrides the arithmetic the config asks for on the chosen path (``fp32``
        measures what a CPU without bf16 computes, on any CPU; ``int8`` what a model whose fallback
        is int8 computes there). ``allow_pickle`` only matters for a custom encoder
        shipped as pickles."""
        from safetensors.torch import load_file

        directory = Path(directory)
        config = read_model_config(directory)
        chosen = choose_runtime(config, runtime)
        heads = MultiTaskHeads(**config.heads.__dict__)
        weights = directory / "heads.safetensors"
        if not weights.exists():
            raise ModelLoadError(f"{directory}: heads.safetensors is missing")
        try:
            heads.load_state_dict(load_file(str(weights)))
        except Exception as exc:   # safetensors raises its own error type for a corrupt header
            raise ModelLoadError(f"{weights}: does not fit the heads in config.json ({exc})") from exc
        heads.eval()
        if precision is not None:   # the chosen path only; replace() re-validates the value
            if chosen == "fast":
                config.fast.encoder = replace(config.fast.encoder, precision=precision)
            else:
                config.encoder = replace(config.encoder, precision=precision)
        settings = config.fast.encoder if chosen == "fast" else config.encoder
        keep_freed_buffers()   # before the encoder allocates anything: batches reuse warm memory
        tokenizer, encoder = build_article_encoder(settings, allow_pickle=allow_pickle)
        return cls(directory, config, heads, tokenizer, encoder, chosen, precision_override=precision)

    def _doc_logit_offset(self) -> torch.Tensor:
        """The fast path's per-label correction towards the full path's document logits (zeros: none).

        A shallow student can reproduce the teacher's ranking of articles yet sit a constant
        distance below it in log-odds on a label; a threshold fitted on the full path's scores
        then cuts the student's in another place. The offset is measured without labels.
        """
        table = self.config.fast.doc_logit_offset if self.runtime == "fast" else {}
        return torch.tensor([float(table.get(lab, 0.0)) for lab in self.labels], dtype=torch.float32)

    def tokenize(self, title: str, sentences: Sequence[str]) -> ArticleTokens:
        s = self.settings
        cap = tokens_in_windows(s.max_windows, s.window, s.overlap) if s.max_windows else None
        return tokenize_article(self.tokenizer, title, sentences, s.window, s.overlap, max_tokens=cap)

    def encode(self, articles: Sequence[Article]) -> list[PooledArticle]:
        """The pooled article and sentence vectors of this runtime's encoder (one pass for the batch)."""
        return self.encoder.encode([self.tokenize(a.title, a.sentences) for a in articles])

    @torch.inference_mode()
    def doc_logits(self, pooled: Sequence[PooledArticle]) -> list[torch.Tensor]:
        """Each article's document-head logits, before the fast path's offset.

        One head call per article, not one per batch: a batched product may round differently
        with the batch's size, and a record must not depend on its batch mates.
        """
        return [self.heads.doc_logits(p.doc[None, :])[0] for p in pooled]

    @torch.inference_mode()
    def run_network(self, articles: Sequence[Article]) -> NetworkOutput:
        """One encoder pass for the batch; both heads read its pooled vectors."""
        docs, sentences = [], []
        pooled = self.encode(articles)
        for art, p, logits in zip(articles, pooled, self.doc_logits(pooled)):
            docs.append(torch.sigmoid(logits + self._offset).numpy().astype(np.float64))
            doc = p.doc[None, :]
            n = len(art.sentences)
            if n:
                sal = torch.sigmoid(self.heads.sentence_logits(
                    p.sentences, doc.expand(n, -1), position_features(n, [len(s) for s in art.sentences]))).numpy()
                # a sentence the encoder never read (past a window cap) has no vector: not abstract material
                sal = np.where(np.asarray(p.sentence_tokens) > 0, sal, 0.0)
            else:
                sal = np.zeros(0, dtype=np.float32)
            sentences.append(sal.astype(np.float64))
        width = len(self.labels)
        return NetworkOutput(np.stack(docs) if docs else np.zeros((0, width)), sentences)


def save_model(directory: Path, config: ModelConfig, heads: MultiTaskHeads, kept_vocab: Path | None,
               tokenizer_file: Path | None = None) -> None:
    """Write a model directory: heads, config and the kept vocabulary (and its trimmed tokenizer)."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    for source, name in ((kept_vocab, "kept_vocab.json"), (tokenizer_file, "tokenizer.json")):
        if source is not None and Path(source).resolve() != (directory / name).resolve():
            shutil.copyfile(source, directory / name)
    if kept_vocab is not None:
        config.encoder.kept_vocab = "kept_vocab.json"
    tuned = config.encoder.tuned_layers
    if tuned:   # fine-tuned top layers travel with the heads they were trained with
        if Path(tuned).resolve() != (directory / TUNED_LAYERS_FILE).resolve():
            shutil.copyfile(tuned, directory / TUNED_LAYERS_FILE)
        config.encoder.tuned_layers = TUNED_LAYERS_FILE
    else:
        (directory / TUNED_LAYERS_FILE).unlink(missing_ok=True)   # a retrain without tuning must not inherit it
    if config.fast is None:   # a fast path distilled from earlier weights would not reproduce these
        (directory / FAST_LAYERS_FILE).unlink(missing_ok=True)
    config.heads.hidden, config.heads.n_outputs, config.heads.head_hidden = (
        heads.hidden, heads.n_outputs, heads.head_hidden)
    save_file({k: v.contiguous() for k, v in heads.state_dict().items()}, str(directory / "heads.safetensors"))
    write_model_config(directory, config)
