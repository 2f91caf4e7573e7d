"""Fine-tune the encoder's top layers on the weak labels, affordably on a 2-core CPU.

A frozen encoder only lets the heads re-weigh features that were learnt for
retrieval; WRENCH-style results say weak supervision gains most when the
encoder itself adapts to the labels. Back-propagating through all layers of
every window is hours on two cores, so this module splits the encoder:

1. the lower layers run once over the pool and their window states are kept
   on disk (``LowerStates``, float16 memory map);
2. only the top ``layers`` layers train, reading those states, with a
   throw-away linear head on the window's mean state and the label model's
   soft targets (the same targets the heads learn from). The first
   ``train_windows`` windows of each article (title and lead) are the
   training input: that is where news says what it is about;
3. the tuned top layers then turn the stored states of every window into the
   pooled vectors the rest of training uses, written into the feature cache
   under the tuned encoder's key, so heads, calibration, crossfit and
   serving all see the tuned encoder and none repeats the lower layers.

The tuned layers ship as ``tuned_layers.safetensors`` in the model directory
(``encoder.tuned_layers``), a few MB instead of a whole encoder.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from healthtag.models.chunking import ArticleTokens, tokenize_article
from healthtag.models.encoder_cache import building
from healthtag.models.encoder_settings import EncoderSettings
from healthtag.models.multitask import ArticleEncoder
from healthtag.models.runtime import build_article_encoder, resolve_precision
from healthtag.models.tuned_layers import apply_tuned_layers, save_tuned_layers
from torch import nn
from tqdm import tqdm

from .build_weak_dataset import LABEL_MODEL_TARGETS, source_kind
from .features import FEATURES_VERSION, TokenCaps, article_cap, cache_key, features_path

log = logging.getLogger(__name__)


FINETUNE_TARGETS = ("heads", "label_model")


@dataclass
class FinetuneConfig:
    """The ``finetune:`` section of a training config; off unless ``layers`` > 0."""

    layers: int = 0               # top encoder layers to tune (0: frozen encoder, the old recipe)
    epochs: int = 2
    lr: float = 5e-5              # tuned layers
    head_lr: float = 1e-3         # the throw-away head
    batch_windows: int = 32
    train_windows: int = 1        # first windows of each article used as training input
    warmup: float = 0.1           # share of steps with a linearly rising learning rate
    seed: int = 13
    targets: str = "heads"        # heads: the heads' soft labels; label_model: the label model's own, where
                                  # data.general_gate replaced general news's gate targets for the heads only
    attention_dropout: float | None = None   # attention-probability dropout while tuning; None: the encoder's own
                                  # (0.1). Drawing it is half of a training step on an AVX2 CPU (docs/speed.md)
    frozen_vectors: bool = False  # also pool the frozen encoder's vectors from the stored states, for crossfit's
                                  # comparison with finetune.layers: 0 (a second pass over the pool, ~11 min on AVX2)
    general_once: bool = False    # general news (inews, People's Daily) read in one epoch only, a seeded share of it
                                  # in each: it teaches the tuned layers the gate alone and is 59 % of the rows

    def __post_init__(self) -> None:
        if self.targets not in FINETUNE_TARGETS:
            raise ValueError(f"finetune.targets must be one of {', '.join(FINETUNE_TARGETS)}, not {self.targets!r}")
        if self.layers < 0:
            raise ValueError(f"finetune.layers must be >= 0, not {self.layers}")
        for name in ("epochs", "batch_windows", "train_windows"):
            if getattr(self, name) < 1:
                raise ValueError(f"finetune.{name} must be >= 1, not {getattr(self, name)}")
        if self.lr <= 0 or self.head_lr <= 0:
            raise ValueError("finetune.lr and finetune.head_lr must be > 0")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"finetune.warmup must be in [0, 1), not {self.warmup}")
        if self.attention_dropout is not None and not 0 <= self.attention_dropout < 1:
            raise ValueError(f"finetune.attention_dropout must be in [0, 1), not {self.attention_dropout}")

    def recipe_fields(self) -> dict:
        """The fields that decide the tuned weights, as the tuning cache keys them.

        ``targets`` is left out (the targets' bytes are keyed instead), so is ``frozen_vectors`` (it
        only adds a cache entry), and ``attention_dropout`` and ``general_once`` while unset, so that
        runs tuned before those fields existed keep their key.
        """
        fields = {k: v for k, v in self.__dict__.items() if k not in ("targets", "frozen_vectors")}
        if fields["attention_dropout"] is None:
            del fields["attention_dropout"]
        if not fields["general_once"]:
            del fields["general_once"]
        return fields

    @property
    def enabled(self) -> bool:
        return self.layers > 0


# ------------------------------------------------------------ lower-layer states

@dataclass
class LowerStates:
    """Window states after the lower layers, one padded row per window, in a float16 memory map."""

    states: np.ndarray            # [W, window, H] float16 (memory-mapped)
    lengths: np.ndarray           # [W] tokens in the row, <s> and </s> included
    first_window: np.ndarray      # [N + 1] row of each article's first window (cumulative)

    def rows(self, article: int) -> range:
        return range(int(self.first_window[article]), int(self.first_window[article + 1]))


def split_settings(settings: EncoderSettings, top: int) -> EncoderSettings:
    """The encoder that produces the stored states: the same one without its top ``top`` layers."""
    if settings.num_layers is None:
        raise ValueError("finetune needs encoder.num_layers set, to know which layers are the top ones")
    if not 0 < top < settings.num_layers:
        raise ValueError(f"finetune.layers must be between 1 and {settings.num_layers - 1}, not {top}")
    return replace(settings, num_layers=settings.num_layers - top, tuned_layers=None)


def tokenize_all(tok, titles: Sequence[str], sentences: Sequence[Sequence[str]], settings: EncoderSettings,
                 max_tokens: TokenCaps) -> list[ArticleTokens]:
    return [tokenize_article(tok, t, s, settings.window, settings.overlap, max_tokens=article_cap(max_tokens, i))
            for i, (t, s) in enumerate(zip(titles, sentences))]


def lower_states(titles: Sequence[str], sentences: Sequence[Sequence[str]], settings: EncoderSettings, top: int,
                 max_tokens: TokenCaps, cache_dir: Path, chunk: int = 64) -> tuple[LowerStates, list[ArticleTokens]]:
    """Run (or reuse) the lower layers over every window of every article."""
    lower = split_settings(settings, top)
    key = cache_key(lower, (-1,), max_tokens, titles, sentences)
    target = Path(cache_dir) / f"lower-{key}"
    tok, encoder = build_article_encoder(lower)
    tokens = tokenize_all(tok, titles, sentences, settings, max_tokens)
    first = np.cumsum([0] + [len(t.windows) for t in tokens]).astype(np.int64)
    if not (target / "done.json").exists():
        _extract(tokens, encoder, first, settings.window, target, chunk)
    meta = json.loads((target / "done.json").read_text(encoding="utf-8"))
    states = np.memmap(target / "states.f16", dtype=np.float16, mode="r",
                       shape=(meta["windows"], settings.window, meta["hidden"]))
    return LowerStates(states, np.load(target / "lengths.npy"), first), tokens


def _extract(tokens: list[ArticleTokens], encoder: ArticleEncoder, first: np.ndarray, window: int,
             target: Path, chunk: int) -> None:
    total, hidden = int(first[-1]), encoder.hidden_size
    with building(target) as tmp:
        states = np.memmap(tmp / "states.f16", dtype=np.float16, mode="w+", shape=(total, window, hidden))
        lengths = np.zeros(total, dtype=np.int32)
        with tqdm(total=len(tokens), desc="lower-layer states", unit="art", file=sys.stderr) as bar:
            for start in range(0, len(tokens), chunk):
                part = tokens[start:start + chunk]
                with torch.inference_mode():
                    for batch, input_ids, mask in encoder.window_batches(part):
                        out = encoder.window_states(batch, input_ids, mask).float().numpy()
                        for i, (a, w) in enumerate(batch):
                            row = int(first[start + a]) + w
                            n = int(mask[i].sum())
                            states[row, :n] = out[i, :n]
                            lengths[row] = n
                bar.update(len(part))
        states.flush()
        np.save(tmp / "lengths.npy", lengths)
        (tmp / "done.json").write_text(json.dumps({"windows": total, "hidden": hidden}), encoding="utf-8")


def padded_batch(store: LowerStates, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """States [B, T, H] (float32) and attention mask [B, T] of some stored windows, T = longest row."""
    lengths = store.lengths[list(rows)]
    width = int(lengths.max())
    states = torch.from_numpy(np.stack([store.states[r, :width] for r in rows]).astype(np.float32))
    mask = torch.arange(width)[None, :] < torch.from_numpy(lengths.astype(np.int64))[:, None]
    return states, mask


def run_top(layers: nn.ModuleList, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The top layers on stored states; the boolean mask keeps padding out of attention."""
    attention = mask[:, None, None, :]
    for layer in layers:
        out = layer(states, attention_mask=attention)
        states = out[0] if isinstance(out, tuple) else out
    return states


class CachedTopEncoder(ArticleEncoder):
    """`ArticleEncoder` whose windows come from stored lower states through the (tuned) top layers."""

    def __init__(self, top: nn.ModuleList, store: LowerStates, hidden: int, batch_windows: int, dtype) -> None:
        super().__init__(None, 0, 0, 0, batch_windows=batch_windows)
        self.top, self.store, self._hidden, self.dtype = top, store, hidden, dtype
        self.offset = 0

    @property
    def hidden_size(self) -> int:
        return self._hidden

    def encode_from(self, offset: int, articles: Sequence[ArticleTokens]):
        """Pool articles ``offset, offset + 1, …`` of the store."""
        self.offset = offset
        return self.encode(articles)

    def window_states(self, batch, input_ids, mask) -> torch.Tensor:
        rows = [int(self.store.first_window[self.offset + a]) + w for a, w in batch]
        states, valid = padded_batch(self.store, rows)
        return run_top(self.top, states.to(self.dtype), valid)


# ------------------------------------------------------------ training

def top_layers(settings: EncoderSettings, top: int) -> nn.ModuleList:
    """A float32, trainable copy of the encoder's top ``top`` layers (base weights, tuned file ignored)."""
    _, encoder = build_article_encoder(replace(settings, tuned_layers=None, precision="fp32"))
    return nn.ModuleList(copy.deepcopy(list(encoder.model.encoder.layer[-top:])))


def set_attention_dropout(layers: nn.ModuleList, p: float) -> None:
    """Set the attention-probability dropout of every layer (plain_bert's and transformers' BERT layers)."""
    found = 0
    for layer in layers:
        attention = getattr(getattr(layer, "attention", None), "self", None)
        dropout = getattr(attention, "dropout", None)
        if not isinstance(dropout, nn.Dropout):
            continue
        dropout.p = p
        if hasattr(attention, "dropout_prob"):   # transformers' SDPA attention reads this copy
            attention.dropout_prob = p
        found += 1
    if found != len(layers):
        raise ValueError(f"finetune.attention_dropout: found the attention dropout of {found} of {len(layers)} layers")


def epoch_rows(owner: np.ndarray, general: np.ndarray | None, config: FinetuneConfig) -> list[np.ndarray]:
    """Which training rows (indices into the row list) each epoch reads.

    Every row in every epoch, unless ``general_once``: then the rows of general-news articles
    (``general[owner]``) are shuffled once with their own seeded generator and dealt out in
    ``epochs`` near-equal parts, one per epoch, so each is read exactly once.
    """
    every = np.arange(len(owner))
    if not config.general_once:
        return [every] * config.epochs
    if general is None:
        raise ValueError("finetune.general_once needs to know which articles are general news")
    is_general = np.asarray(general, dtype=bool)[owner]
    dealt = np.random.default_rng([config.seed, 1]).permutation(np.flatnonzero(is_general))
    parts = np.array_split(dealt, config.epochs)
    kept = every[~is_general]
    return [np.sort(np.concatenate([kept, part])) for part in parts]


def finetune_top(store: LowerStates, targets: np.ndarray, weights: np.ndarray, layers: nn.ModuleList,
                 config: FinetuneConfig, use_bf16: bool,
                 general: np.ndarray | None = None) -> tuple[nn.ModuleList, list[dict]]:
    """Train ``layers`` (in place) on the first windows' mean states against soft targets.

    ``general`` [N] marks general-news articles, which ``config.general_once`` reads in one epoch only.
    """
    torch.manual_seed(config.seed)
    if config.attention_dropout is not None:
        set_attention_dropout(layers, config.attention_dropout)
    rng = np.random.default_rng(config.seed)
    rows = np.array([r for a in range(len(store.first_window) - 1)
                     for r in list(store.rows(a))[: config.train_windows]], dtype=np.int64)
    owner = np.searchsorted(store.first_window, rows, side="right") - 1
    per_epoch = epoch_rows(owner, general, config)
    hidden, n_labels = store.states.shape[2], targets.shape[1]
    head = nn.Linear(hidden, n_labels)
    optimiser = torch.optim.AdamW([{"params": layers.parameters(), "lr": config.lr},
                                   {"params": head.parameters(), "lr": config.head_lr}], weight_decay=0.01)
    steps = sum(math.ceil(len(chosen) / config.batch_windows) for chosen in per_epoch)
    warm = max(1, int(config.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    history, step = [], 0
    layers.train()
    for epoch, chosen in enumerate(per_epoch):
        order = chosen[rng.permutation(len(chosen))]
        total, seen, started = 0.0, 0, time.perf_counter()
        bar = tqdm(range(0, len(order), config.batch_windows), desc=f"fine-tune epoch {epoch + 1}", unit="batch",
                   file=sys.stderr)
        for first in bar:
            pick = order[first:first + config.batch_windows]
            states, mask = padded_batch(store, rows[pick])
            target = torch.from_numpy(targets[owner[pick]].astype(np.float32))
            weight = torch.from_numpy(weights[owner[pick]].astype(np.float32))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                out = run_top(layers, states, mask)
            content = mask.clone()
            content[:, 0] = False
            content[torch.arange(len(pick)), mask.sum(1) - 1] = False   # </s>
            pooled = (out.float() * content[..., None]).sum(1) / content.sum(1, keepdim=True).clamp(min=1)
            loss = (nn.functional.binary_cross_entropy_with_logits(head(pooled), target, reduction="none")
                    .mean(1) * weight).sum() / weight.sum().clamp(min=1e-6)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(layers.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            total += float(loss.detach()) * len(pick)
            seen += len(pick)
            bar.set_postfix(loss=f"{total / seen:.4f}")
        history.append({"epoch": epoch + 1, "loss": round(total / max(seen, 1), 5),
                        "seconds": round(time.perf_counter() - started, 1)})
        log.info("fine-tune epoch %d: loss %.4f (%.0fs)", epoch + 1, total / max(seen, 1), history[-1]["seconds"])
    layers.eval()
    return layers, history


def pooled_features(store: LowerStates, tokens: list[ArticleTokens], layers: nn.ModuleList, settings: EncoderSettings,
                    chunk: int = 64, desc: str = "tuned vectors"):
    """The features dataset (`extract_features` columns) of every stored article through ``layers``."""
    from datasets import Dataset

    dtype = torch.bfloat16 if resolve_precision(settings.precision) == "bf16" else torch.float32
    top = copy.deepcopy(layers).to(dtype).eval()
    encoder = CachedTopEncoder(top, store, store.states.shape[2], settings.batch_windows, dtype)
    rows: dict[str, list] = {"doc_vec": [], "sent_vecs": [], "sent_tokens": []}
    with tqdm(total=len(tokens), desc=desc, unit="art", file=sys.stderr) as bar, torch.inference_mode():
        for start in range(0, len(tokens), chunk):
            for pooled in encoder.encode_from(start, tokens[start:start + chunk]):
                rows["doc_vec"].append(pooled.doc.numpy().astype("float32"))
                rows["sent_vecs"].append(pooled.sentences.numpy().astype("float32"))
                rows["sent_tokens"].append(pooled.sentence_tokens)
            bar.update(min(chunk, len(tokens) - start))
    return Dataset.from_dict(rows)


def _as_encoder(top: nn.ModuleList, n_layers: int) -> nn.Module:
    """The top layers under a BertModel's state-dict names (``encoder.layer.<i>.…``), lower ones empty."""
    holder = nn.Module()
    holder.encoder = nn.Module()
    holder.encoder.layer = nn.ModuleList([nn.Identity()] * (n_layers - len(top)) + list(top))
    return holder


@dataclass
class FinetuneResult:
    settings: EncoderSettings     # the tuned encoder (tuned_layers set)
    history: list[dict]
    seconds: float
    reused: bool                  # the tuned layers came from an earlier run with the same recipe and pool


def tuning_path(titles: Sequence[str], sentences: Sequence[Sequence[str]], targets: np.ndarray,
                settings: EncoderSettings, config: FinetuneConfig, max_tokens: TokenCaps, run_dir: Path) -> Path:
    """Where ``run_dir`` keeps the tuned layers of this recipe, pool and targets (reused when present)."""
    # which column the targets came from is not in the key: their bytes are, so equal targets reuse one tuning
    recipe = hashlib.sha1(json.dumps([FEATURES_VERSION, config.recipe_fields(), settings.to_dict(),
                                      cache_key(settings, (-1,), max_tokens, titles, sentences),
                                      hashlib.sha1(targets.tobytes()).hexdigest()],
                                     sort_keys=True).encode()).hexdigest()[:12]
    return Path(run_dir) / "finetune" / f"tuned_layers-{recipe}.safetensors"


def run_finetune(weak, settings: EncoderSettings, config: FinetuneConfig, max_tokens: TokenCaps,
                 run_dir: Path) -> FinetuneResult:
    """Tune the top layers on ``weak`` and leave the pool's tuned vectors in the feature cache."""
    started = time.perf_counter()
    titles, sentences = weak["title"], weak["sentences"]
    targets = np.asarray(weak[target_column(config, weak)], dtype=np.float32)
    weights = np.ones(len(targets), dtype=np.float32)
    tuned_path = tuning_path(titles, sentences, targets, settings, config, max_tokens, run_dir)
    history_path = tuned_path.with_suffix(".json")
    n_layers = settings.num_layers
    indices = list(range(n_layers - config.layers, n_layers))
    layers = top_layers(settings, config.layers)
    tuned = replace(settings, tuned_layers=str(tuned_path))
    reused = tuned_path.exists() and history_path.exists()
    # on request the frozen encoder's vectors come from the same states (a pass of the top layers over
    # the pool), so the side-by-side comparison (crossfit with finetune.layers: 0) needs no whole-encoder pass
    wanted = [(tuned, "tuned vectors")] + ([(settings, "frozen-encoder vectors")] if config.frozen_vectors else [])

    def missing() -> list[tuple[EncoderSettings, str, Path]]:   # the tuned vectors' key reads the tuned layers' file
        cached = [(s, desc, features_path(run_dir / "features", s, (-1,), max_tokens, titles, sentences))
                  for s, desc in wanted]
        return [(s, desc, path) for s, desc, path in cached if not (path / "dataset_info.json").exists()]

    if reused:
        apply_tuned_layers(_as_encoder(layers, n_layers), tuned_path)   # the same checks serving makes
        history = json.loads(history_path.read_text(encoding="utf-8"))
        log.info("reusing tuned layers %s", tuned_path)
        todo = missing()
        if not todo:
            # everything downstream reads the cached vectors, so the pool's lower-layer states (a pass
            # over the whole pool and 6.7 GB) are only computed when the tuning or those vectors are missing
            return FinetuneResult(tuned, history, round(time.perf_counter() - started, 1), True)
    store, tokens = lower_states(titles, sentences, settings, config.layers, max_tokens, run_dir / "finetune")
    if not reused:
        use_bf16 = resolve_precision(settings.precision) == "bf16"
        general = np.array([source_kind(s) == "general" for s in weak["source"]]) if config.general_once else None
        layers, history = finetune_top(store, targets, weights, layers, config, use_bf16, general)
        save_tuned_layers(_as_encoder(layers, n_layers), indices, tuned_path)
        history_path.write_text(json.dumps(history), encoding="utf-8")
        todo = missing()
    for encoder_settings, desc, target in todo:
        top = layers if encoder_settings is tuned else top_layers(settings, config.layers)
        pooled_features(store, tokens, top, settings, desc=desc).save_to_disk(str(target))
    return FinetuneResult(tuned, history, round(time.perf_counter() - started, 1), reused)


def target_column(config: FinetuneConfig, weak) -> str:
    """The weak dataset's column the top layers learn from (``finetune.targets``)."""
    if config.targets == "label_model" and LABEL_MODEL_TARGETS in weak.column_names:
        return LABEL_MODEL_TARGETS
    return "soft_labels"   # without that column the label model's targets are the heads' own


def encoder_for(config, weak) -> EncoderSettings:
    """The encoder settings a training config's vectors come from: tuned when its recipe tunes (reusing the run)."""
    if not config.finetune.enabled:
        return config.encoder
    return run_finetune(weak, config.encoder, config.finetune, config.token_caps(weak["source"]),
                        config.run_path).settings
