"""Distil the shipped encoder into a shallow student: the fast runtime path.

The full encoder (7 layers of e5-small, the top two fine-tuned) costs about
25 GFLOP per median article; on a CPU without native bf16 that caps tagging
at a few articles per second. The student keeps the encoder's embeddings,
window layout and width, and has only ``layers_from`` layers, initialised
from those layers of the teacher (with ``ffn_size``, each keeps only that many
of its feed-forward neurons: `ffn_pruning`). It learns on the unlabeled pool the
training config names (gold ids stay out), without looking at a label:

``windows`` encoder windows are sampled and the teacher runs once over them
(token states stored as a float16 memory map under the run directory, with
each token's sentence and each sentence's position features). The student
then trains ``steps`` batches to reproduce what the heads read: token states,
sentence and window means, and the heads' logits on them.

The heads, thresholds, rules and combination stay the model's (re-fitting
the heads to the student's vectors, or training a new sentence head on them,
left the held-out agreement and dev ROUGE where they were: the student's
vectors, not the heads, limit it). The result is ``fast_layers.safetensors``
and the ``fast`` entry of ``config.json``; ``healthtag.training.fast_check``
then measures how closely it reproduces the full path.

    python -m healthtag.training.distill --config configs/default.yaml
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from healthtag.models.chunking import ArticleTokens, tokenize_article
from healthtag.models.encoder_cache import building
from healthtag.models.model_config import FastPath, read_model_config, write_model_config
from healthtag.models.multitask import N_POSITION_FEATURES, MultiTaskHeads, position_features
from healthtag.models.runtime import build_article_encoder, resolve_precision
from healthtag.models.topic_model import FAST_LAYERS_FILE, TopicSummaryModel
from healthtag.models.tuned_layers import save_tuned_layers
from healthtag.text.article import Article
from torch import nn
from tqdm import tqdm

from .build_weak_dataset import pool_articles  # also the pool of fast_check and student_offset
from .distill_config import DistillConfig
from .ffn_pruning import prune_student_ffn
from .window_rows import window_rows
from .model_card import refresh_model_card

log = logging.getLogger(__name__)


# ------------------------------------------------------------ teacher targets

@dataclass
class TeacherWindows:
    """Teacher outputs for sampled windows: what each training step compares the student with."""

    states: np.ndarray        # [W, T, H] float16 (memory-mapped): teacher token states
    ids: np.ndarray           # [W, T] int32 input ids (<s> … </s>, then padding)
    lengths: np.ndarray       # [W] tokens in the row, <s> and </s> included
    segment: np.ndarray       # [W, T] int32: 0 = title, k = sentence k-1 of its article; -1 = <s>, </s>, padding
    positions: np.ndarray     # [W, S, 4] float32 position features of the window's sentences (segment k at row k)

    def __len__(self) -> int:
        return len(self.lengths)


def sample_windows(tokens: Sequence[ArticleTokens], articles: Sequence[Article], count: int,
                   rng: np.random.Generator, first_share: float = 0.0,
                   source_weights: dict[str, float] | None = None) -> list[tuple[int, int]]:
    """``count`` (article, window) pairs drawn without replacement from every window of ``tokens``.

    ``first_share`` of them are drawn from the articles' first windows alone: the abstract is
    almost always chosen there (title and lead), so a student that sees more of them can spend
    more of its training on the sentence ranking that decides the abstract. ``source_weights``
    (article source prefix → weight, 1 for the rest) makes a window of those sources that much
    likelier to be drawn: the pool is mostly general and national news, users' pages are local reports.
    """
    pairs = [(a, w) for a, t in enumerate(tokens) for w in range(len(t.windows))]
    count = min(count, len(pairs))
    firsts = [i for i, (_, w) in enumerate(pairs) if w == 0]
    chosen = rng.choice(firsts, size=min(round(first_share * count), len(firsts)), replace=False) if first_share else []
    rest = np.setdiff1d(np.arange(len(pairs)), chosen)
    if source_weights:
        weight = np.array([source_weight(articles[pairs[i][0]].source, source_weights) for i in rest], dtype=float)
        drawn = rng.choice(rest, size=count - len(chosen), replace=False, p=weight / weight.sum())
    else:
        drawn = rng.choice(rest, size=count - len(chosen), replace=False)
    pick = np.concatenate([np.asarray(chosen, dtype=int), drawn])
    return [pairs[i] for i in sorted(pick)]


def source_weight(source: str, weights: dict[str, float]) -> float:
    """The weight of the longest prefix of ``source`` named in ``weights`` (1 when none is)."""
    named = [prefix for prefix in weights if source.startswith(prefix)]
    return float(weights[max(named, key=len)]) if named else 1.0


def teacher_windows(model: TopicSummaryModel, articles: Sequence[Article], tokens: Sequence[ArticleTokens],
                    pairs: Sequence[tuple[int, int]], target: Path, batch: int = 16) -> TeacherWindows:
    """Run the teacher over the sampled windows once (or reuse a finished run at ``target``)."""
    window, hidden = model.settings.window, model.encoder.hidden_size
    if not (target / "done.json").exists():
        encoder = model.encoder
        bos, eos, pad = encoder.bos_id, encoder.eos_id, encoder.pad_id
        n = len(pairs)
        max_sent = max(1 + max(tokens[a].segment_of_token[s:e] or [0]) for a, w in pairs
                       for s, e in [tokens[a].windows[w]])
        with building(target) as tmp:
            states = np.lib.format.open_memmap(tmp / "states.npy", mode="w+", dtype=np.float16,
                                               shape=(n, window, hidden))
            ids = np.full((n, window), pad, dtype=np.int32)
            segment = np.full((n, window), -1, dtype=np.int32)
            lengths = np.zeros(n, dtype=np.int32)
            positions = np.zeros((n, max_sent, N_POSITION_FEATURES), dtype=np.float32)
            for row, (a, w) in enumerate(pairs):
                start, end = tokens[a].windows[w]
                content = tokens[a].ids[start:end]
                ids[row, :len(content) + 2] = [bos, *content, eos]
                segment[row, 1:1 + len(content)] = tokens[a].segment_of_token[start:end]
                lengths[row] = len(content) + 2
                sents = articles[a].sentences
                if sents:
                    feats = position_features(len(sents), [len(s) for s in sents]).numpy()
                    top = min(len(sents), max_sent - 1)
                    positions[row, 1:1 + top] = feats[:top]
            order = np.argsort(-lengths, kind="stable")
            with torch.inference_mode(), tqdm(total=n, desc="teacher windows", unit="win", file=sys.stderr) as bar:
                for first in range(0, n, batch):
                    rows = order[first:first + batch]
                    input_ids, mask = window_rows(ids, lengths, rows)
                    width = input_ids.shape[1]
                    out = encoder.model(input_ids=input_ids, attention_mask=mask).last_hidden_state.float().numpy()
                    states[rows, :width] = out
                    bar.update(len(rows))
            states.flush()
            for name, array in (("ids", ids), ("segment", segment), ("lengths", lengths), ("positions", positions)):
                np.save(tmp / f"{name}.npy", array)
            (tmp / "done.json").write_text(json.dumps({"windows": n, "hidden": hidden}), encoding="utf-8")
    return TeacherWindows(np.load(target / "states.npy", mmap_mode="r"), np.load(target / "ids.npy"),
                          np.load(target / "lengths.npy"), np.load(target / "segment.npy"),
                          np.load(target / "positions.npy"))


# ------------------------------------------------------------ the student

def student_from(model: TopicSummaryModel, layers_from: Sequence[int]) -> nn.Module:
    """A float32 copy of the teacher's encoder (tuned layers included) keeping only ``layers_from``, in order."""
    _, full = build_article_encoder(replace(model.settings, precision="fp32"))
    student = full.model
    have = len(student.encoder.layer)
    if max(layers_from) >= have:
        raise ValueError(f"distill.layers_from names layer {max(layers_from)}, but the teacher has {have}")
    student.encoder.layer = nn.ModuleList([copy.deepcopy(student.encoder.layer[i]) for i in layers_from])
    student.config.num_hidden_layers = len(layers_from)
    for p in student.embeddings.parameters():   # the embeddings stay the base encoder's: the student ships layers only
        p.requires_grad = False
    return student


def distillation_loss(student_states: torch.Tensor, teacher_states: torch.Tensor, segment: torch.Tensor,
                      positions: torch.Tensor, heads: MultiTaskHeads, scale: torch.Tensor,
                      rank_weight: float = 0.0, doc_loss: str = "logit_mse") -> dict[str, torch.Tensor]:
    """The terms the student is trained on, each a mean squared error; their sum is the loss.

    ``tokens``, ``sentences`` and ``window``: token states, per-sentence and per-window mean states,
    each dimension divided by the teacher's spread so no dimension dominates; ``doc_head`` and
    ``sentence_head``: the heads' logits on the window and sentence means (the window standing in
    for the article), which is what the tags and the abstract are decided on. With ``rank_weight``,
    ``sentence_rank`` adds the KL divergence between the teacher's and the student's softmax over
    each window's sentence logits: the abstract depends on which sentences rank first, and a squared
    error spends its effort on low-ranked sentences whose order never matters.

    ``doc_loss="bernoulli_kl"`` replaces the document head's squared logit error by the KL divergence
    between the teacher's and the student's label probabilities, summed over labels: a squared logit
    error is dominated by labels far from any threshold (a logit of -9 against -7 weighs as much as
    0 against 2), while tags change only where the probabilities are mid-range.
    """
    content = segment >= 0
    norm = lambda x: x / scale   # noqa: E731
    terms = {"tokens": (norm(student_states - teacher_states) ** 2)[content].mean()}
    base = torch.where(content, segment, torch.full_like(segment, 10**6)).min(dim=1, keepdim=True).values
    local = torch.where(content, segment - base, torch.full_like(segment, -1))
    n_seg = int(local.max()) + 1
    onehot = (local[:, None, :] == torch.arange(n_seg)[None, :, None]).float()          # [B, S, T]
    counts = onehot.sum(-1, keepdim=True)
    present = counts[..., 0] > 0
    s_mean, t_mean = onehot @ student_states / counts.clamp(min=1), onehot @ teacher_states / counts.clamp(min=1)
    terms["sentences"] = (norm(s_mean - t_mean) ** 2)[present].mean()
    weights = content[..., None].float()
    s_win = (student_states * weights).sum(1) / weights.sum(1)
    t_win = (teacher_states * weights).sum(1) / weights.sum(1)
    terms["window"] = (norm(s_win - t_win) ** 2).mean()
    s_doc, t_doc = heads.doc_logits(s_win), heads.doc_logits(t_win)
    terms["doc_head"] = (bernoulli_kl(t_doc, s_doc).sum(-1).mean() if doc_loss == "bernoulli_kl"
                         else F.mse_loss(s_doc, t_doc))
    absolute = base + torch.arange(n_seg)[None, :]                                      # [B, S] segment ids
    is_sentence = present & (absolute >= 1) & (absolute < positions.shape[1])
    if bool(is_sentence.any()):
        b, s = is_sentence.nonzero(as_tuple=True)
        pos = positions[b, absolute[b, s]]
        s_logits = heads.sentence_logits(s_mean[b, s], s_win[b], pos)
        t_logits = heads.sentence_logits(t_mean[b, s], t_win[b], pos)
        terms["sentence_head"] = F.mse_loss(s_logits, t_logits)
        if rank_weight > 0:
            terms["sentence_rank"] = rank_weight * window_ranking_kl(s_logits, t_logits, b)
    return terms


def bernoulli_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(teacher || student) of independent Bernoulli labels given by their logits."""
    p = torch.sigmoid(teacher_logits)
    return (p * (F.logsigmoid(teacher_logits) - F.logsigmoid(student_logits))
            + (1 - p) * (F.logsigmoid(-teacher_logits) - F.logsigmoid(-student_logits)))


def window_ranking_kl(student: torch.Tensor, teacher: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Mean over windows of KL(teacher || student), each a softmax over that window's sentences."""
    losses = []
    for w in torch.unique(window):
        rows = window == w
        if int(rows.sum()) < 2:
            continue
        target = F.log_softmax(teacher[rows], dim=0)
        losses.append(F.kl_div(F.log_softmax(student[rows], dim=0), target, log_target=True, reduction="sum"))
    return torch.stack(losses).mean() if losses else student.sum() * 0.0


def train_student(student: nn.Module, heads: MultiTaskHeads, data: TeacherWindows, config: DistillConfig,
                  use_bf16: bool) -> list[dict]:
    """Train ``student`` in place on the stored teacher windows; returns the loss history."""
    torch.manual_seed(config.batch_seed)
    rng = np.random.default_rng(config.batch_seed)
    heads = copy.deepcopy(heads).eval()
    for p in heads.parameters():
        p.requires_grad = False
    sample = rng.choice(len(data), size=min(256, len(data)), replace=False)
    stored = np.stack([data.states[r] for r in sorted(sample)]).astype(np.float32)
    scale = torch.from_numpy(stored[data.segment[sorted(sample)] >= 0].std(0)).clamp(min=1e-3)
    params = [p for p in student.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    warm = max(1, config.warmup)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.02, (config.steps - s) / max(1, config.steps - warm))))
    student.train()
    history, running, started = [], {}, time.perf_counter()
    bar = tqdm(range(config.steps), desc="distil", unit="step", file=sys.stderr)
    for step in bar:
        rows = np.sort(rng.choice(len(data), size=min(config.batch_windows, len(data)), replace=False))
        input_ids, mask = window_rows(data.ids, data.lengths, rows)
        width = input_ids.shape[1]
        teacher = torch.from_numpy(data.states[rows, :width].astype(np.float32))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            out = student(input_ids=input_ids, attention_mask=mask).last_hidden_state
        terms = distillation_loss(out.float(), teacher, torch.from_numpy(data.segment[rows, :width].astype(np.int64)),
                                  torch.from_numpy(data.positions[rows]), heads, scale, config.rank_weight,
                                  config.doc_loss)
        loss = sum(terms.values())
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        schedule.step()
        for k, v in terms.items():
            value = float(v.detach())
            running[k] = 0.98 * running.get(k, value) + 0.02 * value
        bar.set_postfix(loss=f"{sum(running.values()):.3f}")
        if (step + 1) % max(1, config.steps // 10) == 0 or step + 1 == config.steps:
            history.append({"step": step + 1, **{k: round(v, 4) for k, v in running.items()},
                            "seconds": round(time.perf_counter() - started, 1)})
            log.info("distil step %d: %s", step + 1, history[-1])
    student.eval()
    return history


# ------------------------------------------------------------ the recipe

def split_pool(articles: Sequence[Article], check: int, seed: int) -> tuple[list[Article], list[Article]]:
    """(training articles, check articles): the check articles are never distilled on."""
    order = np.random.default_rng(seed).permutation(len(articles))
    check_idx = set(order[:check].tolist())
    return ([a for i, a in enumerate(articles) if i not in check_idx],
            [a for i, a in enumerate(articles) if i in check_idx])


def run_distill(config, model_dir: Path | None = None) -> Path:
    """Distil ``model_dir`` (default: the config's output) and record its fast path; returns the layers file.

    The teacher windows and the trained student are kept in the run directory, keyed by
    everything they depend on, so a rerun with the same recipe repeats neither.
    """
    from healthtag.models.tuned_layers import apply_tuned_layers

    from .preflight import require_file

    started = time.perf_counter()
    settings: DistillConfig = config.distill
    model_dir = Path(model_dir or config.out)
    for corpus in [c for c in [config.data.corpus, *config.data.extra_corpora] if c]:
        require_file(corpus, "unlabeled corpus (data.corpus / data.extra_corpora)")
    model = TopicSummaryModel.load(model_dir, runtime="full")
    articles, check = split_pool(pool_articles(config), settings.check_articles, settings.seed)
    tokens = [tokenize_article(model.tokenizer, a.title, a.sentences, model.settings.window, model.settings.overlap,
                               max_tokens=config.data.max_train_tokens) for a in articles]
    pairs = sample_windows(tokens, articles, settings.windows, np.random.default_rng(settings.seed),
                           settings.first_window_share, settings.source_weights)
    key_parts = [settings.windows, settings.seed, settings.check_articles, config.data.max_train_tokens,
                 model_fingerprint(model_dir), [a.id for a in articles]]
    if settings.first_window_share:   # samples without the share keep their cache names
        key_parts.append(settings.first_window_share)
    if settings.source_weights:       # so do samples without source weights
        key_parts.append(sorted(settings.source_weights.items()))
    key = _digest(key_parts)
    work = config.run_path / "distill"
    data = teacher_windows(model, articles, tokens, pairs, work / f"teacher-{key}")
    student = student_from(model, settings.layers_from)
    use_bf16 = resolve_precision(model.settings.precision) == "bf16"
    student_key = [key, settings.layers_from, settings.steps, settings.batch_windows, settings.lr, settings.warmup,
                   settings.rank_weight]
    heads, heads_key = model.heads, "model"
    if settings.teacher_heads == "label_model":
        from .teacher_heads import label_model_heads

        heads, heads_key = label_model_heads(config, model.heads, model_fingerprint(model_dir))
    if heads_key != "model":                   # students of the model's own heads keep their cache names
        student_key.append(["teacher_heads", heads_key])
    if settings.batch_seed != settings.seed:   # students of the default seed keep their cache names
        student_key.append(settings.batch_seed)
    if settings.doc_loss != "logit_mse":       # so do students of the default document term
        student_key.append(settings.doc_loss)
    if settings.ffn_size is not None:          # and students of full-width layers
        student_key.append(["ffn", settings.ffn_size])
    cached = work / f"student-{_digest(student_key)}.safetensors"
    indices = list(range(len(settings.layers_from)))
    if cached.is_file() and cached.with_suffix(".json").is_file():
        apply_tuned_layers(student, cached)
        history = json.loads(cached.with_suffix(".json").read_text(encoding="utf-8"))
        log.info("reusing the distilled student %s", cached)
    else:
        if settings.ffn_size is not None:
            sample = np.sort(np.random.default_rng(settings.seed).choice(len(data), size=min(256, len(data)), replace=False))
            prune_student_ffn(student, data.ids[sample], data.lengths[sample], settings.ffn_size)
        history = train_student(student, heads, data, settings, use_bf16)
        save_tuned_layers(student, indices, cached)
        cached.with_suffix(".json").write_text(json.dumps(history), encoding="utf-8")
    layers_path = model_dir / FAST_LAYERS_FILE
    cfg = read_model_config(model_dir)
    if cfg.fast is not None:
        # the old record goes first: a run killed between the two writes below then leaves a model that
        # runs its full encoder, never a new student under the old student's recipe and validation
        write_model_config(model_dir, replace(cfg, fast=None))
    save_tuned_layers(student, indices, layers_path)
    cfg.fast = FastPath(
        encoder=replace(cfg.encoder, num_layers=len(settings.layers_from), tuned_layers=str(layers_path),
                        fallback=settings.fallback),
        recipe={"layers_from": list(settings.layers_from), "teacher_layers": len(model.encoder.model.encoder.layer),
                "windows": len(data), "steps": settings.steps, "batch_windows": settings.batch_windows,
                "lr": settings.lr, "rank_weight": settings.rank_weight, "doc_loss": settings.doc_loss,
                "ffn_size": settings.ffn_size,
                "seed": settings.seed,
                "student_seed": settings.batch_seed,
                "first_window_share": settings.first_window_share,
                "teacher_heads": "model" if heads_key == "model" else settings.teacher_heads,
                "source_weights": dict(settings.source_weights),
                "check_articles": [a.id for a in check], "history": history,
                "minutes": round((time.perf_counter() - started) / 60, 1)})
    write_model_config(model_dir, cfg)
    if settings.gate_offset_articles:
        from .student_offset import run_offset

        run_offset(config, model_dir, settings.gate_offset_articles, articles=articles)
    refresh_model_card(model_dir)
    log.info("fast path written: %s (%d layers from teacher layers %s), %.0f min", layers_path,
             len(settings.layers_from), settings.layers_from, (time.perf_counter() - started) / 60)
    return layers_path


def _digest(parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def model_fingerprint(model_dir: Path) -> str:
    """What the teacher's outputs depend on: its encoder settings and tuned layers."""
    from healthtag.models.encoder_cache import file_digest

    cfg = read_model_config(model_dir)
    tuned = cfg.encoder.tuned_layers
    return json.dumps([cfg.encoder.num_layers, cfg.encoder.window, cfg.encoder.overlap, cfg.encoder.spec,
                       file_digest(Path(cfg.encoder.kept_vocab)) if cfg.encoder.kept_vocab else None,
                       file_digest(Path(tuned)) if tuned else None, file_digest(model_dir / "heads.safetensors")])


def main(argv: list[str] | None = None) -> None:
    from .config import load_train_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="training config (data pool, distill section)")
    parser.add_argument("--model", type=Path, default=None, help="model directory to distil (default: the config's out)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_distill(load_train_config(args.config), args.model)


if __name__ == "__main__":
    main()
