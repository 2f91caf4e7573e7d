"""Train the document and sentence heads on cached encoder vectors, noise-aware.

Weak labels are wrong in patterned ways (a keyword in a quote, a topic
described without any listed keyword), so the loop offers three remedies that
the training report compares:

* soft targets: the label model's probabilities instead of 0/1 votes;
* small-loss filtering (the co-teaching idea, one network): after a warm-up,
  the highest-loss fraction of (article, label) targets in each batch is
  left out of the loss, since those are the likeliest label errors;
* self-training: after a round, targets where the network is confident are
  replaced by its own sharpened prediction and a fresh network is trained,
  which lets it tag articles whose wording no rule lists;
* a contrastive regulariser in the self-training rounds (COSINE, Yu et al.
  2021): rows the previous round is sure of on every label pull their hidden
  states together when they share a label set and apart when they do not, so
  the head's representation follows the confident labels, not the noisy rest.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from healthtag.models.multitask import MultiTaskHeads, position_features
from torch import nn


@dataclass
class HeadTrainingConfig:
    seed: int = 13
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    head_hidden: int = 256
    dropout: float = 0.2
    soft_targets: bool = True
    loss_filter: float = 0.0          # fraction of highest-loss doc targets dropped per batch
    loss_filter_warmup: int = 5       # epochs before filtering starts
    self_training_rounds: int = 0
    self_training_confidence: float = 0.9
    contrastive_weight: float = 0.0   # COSINE's regulariser in self-training rounds, against the loss summed over labels
    sentence_loss_weight: float = 1.0
    log_every: int = 5

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "head_hidden": self.head_hidden,
                    "log_every": self.log_every}
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be > 0, not {value}")
        for name, value in {"dropout": self.dropout, "loss_filter": self.loss_filter,
                            "self_training_confidence": self.self_training_confidence}.items():
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), not {value}")
        if self.self_training_rounds < 0 or self.loss_filter_warmup < 0 or self.weight_decay < 0:
            raise ValueError("self_training_rounds, loss_filter_warmup and weight_decay must be >= 0")
        if self.contrastive_weight < 0:
            raise ValueError(f"contrastive_weight must be >= 0, not {self.contrastive_weight}")


@dataclass
class TrainingData:
    """Everything the loop needs, as tensors (built from the feature and weak datasets)."""

    doc: torch.Tensor                       # [N, D]
    targets: torch.Tensor                   # [N, L] in [0, 1]
    sentences: list[torch.Tensor]           # per article [S_i, D]
    salience: list[torch.Tensor]            # per article [S_i]
    positions: list[torch.Tensor]           # per article [S_i, P]
    sentence_mask: list[torch.Tensor]       # per article [S_i] bool (sentence seen and article is health)
    weights: torch.Tensor | None = None     # [N] loss weight per article (default 1)
    clean: torch.Tensor | None = None       # [N] bool: reviewed labels, never replaced by self-training

    def __post_init__(self) -> None:
        n = int(self.doc.shape[0])
        if self.weights is None:
            self.weights = torch.ones(n)
        if self.clean is None:
            self.clean = torch.zeros(n, dtype=torch.bool)

    @classmethod
    def build(cls, features, weak, target_column: str = "soft_labels",
              salience_from: list[str] | None = None) -> "TrainingData":
        """Rows from the feature and weak datasets. ``salience_from`` (source prefixes, or ``pages`` for
        the seed pages) limits which articles teach the sentence head; None lets every health article."""
        doc = torch.tensor(np.asarray(features["doc_vec"], dtype=np.float32))
        targets = torch.tensor(np.asarray(weak[target_column], dtype=np.float32))
        sentences, salience, positions, masks = [], [], [], []
        sources = weak["source"] if "source" in weak.column_names else [""] * len(weak)
        for vecs, tokens, sal, sents, health, source in zip(features["sent_vecs"], features["sent_tokens"],
                                                            weak["salience"], weak["sentences"], weak["health"],
                                                            sources):
            health = health and _teaches_salience(source, salience_from)
            n = len(sents)
            sentences.append(torch.tensor(np.asarray(vecs, dtype=np.float32)).reshape(n, doc.shape[1]))
            salience.append(torch.tensor(sal, dtype=torch.float32))
            positions.append(position_features(n, [len(s) for s in sents]))
            masks.append(torch.tensor([t > 0 and health for t in tokens], dtype=torch.bool))
        return cls(doc, targets, sentences, salience, positions, masks)

    @classmethod
    def labelled(cls, features, sentences: list[list[str]], label_sets: list[set[str]], labels: list[str],
                 weight: float) -> "TrainingData":
        """Reviewed articles as training rows: 0/1 targets from their label sets, weighted as clean.

        The gold format lists ``non_health`` alone for a general-news article,
        so its topics are all 0. No sentence targets: reviewers label topics.
        """
        doc = torch.tensor(np.asarray(features["doc_vec"], dtype=np.float32)).reshape(len(label_sets), -1)
        targets = torch.tensor([[1.0 if lab in g else 0.0 for lab in labels] for g in label_sets]).reshape(
            len(label_sets), len(labels))
        vecs = [torch.tensor(np.asarray(v, dtype=np.float32)).reshape(len(s), doc.shape[1])
                for v, s in zip(features["sent_vecs"], sentences)]
        return cls(doc, targets, vecs, [torch.zeros(len(s)) for s in sentences],
                   [position_features(len(s), [len(x) for x in s]) for s in sentences],
                   [torch.zeros(len(s), dtype=torch.bool) for s in sentences],
                   torch.full((len(label_sets),), float(weight)), torch.ones(len(label_sets), dtype=torch.bool))

    def concat(self, other: "TrainingData") -> "TrainingData":
        return TrainingData(torch.cat([self.doc, other.doc]), torch.cat([self.targets, other.targets]),
                            self.sentences + other.sentences, self.salience + other.salience,
                            self.positions + other.positions, self.sentence_mask + other.sentence_mask,
                            torch.cat([self.weights, other.weights]), torch.cat([self.clean, other.clean]))

    def subset(self, rows: list[int]) -> "TrainingData":
        index = torch.tensor(rows, dtype=torch.long)
        return TrainingData(self.doc[index], self.targets[index], [self.sentences[i] for i in rows],
                            [self.salience[i] for i in rows], [self.positions[i] for i in rows],
                            [self.sentence_mask[i] for i in rows], self.weights[index], self.clean[index])

    def __len__(self) -> int:
        return int(self.doc.shape[0])


def _teaches_salience(source: str, salience_from: list[str] | None) -> bool:
    if salience_from is None:
        return True
    is_page = not source.startswith(("corpus:", "inews:", "peoples_daily"))
    return any((entry == "pages" and is_page) or (entry != "pages" and source.startswith(entry))
               for entry in salience_from)


@dataclass
class TrainingLog:
    rounds: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _sentence_batch(data: TrainingData, heads: MultiTaskHeads, idx: list[int], doc_vecs: torch.Tensor):
    rows, docs, pos, sal = [], [], [], []
    for j, i in enumerate(idx):
        mask = data.sentence_mask[i]
        if not mask.any():
            continue
        rows.append(data.sentences[i][mask])
        docs.append(doc_vecs[j].expand(int(mask.sum()), -1))
        pos.append(data.positions[i][mask])
        sal.append(data.salience[i][mask])
    if not rows:
        return None
    logits = heads.sentence_logits(torch.cat(rows), torch.cat(docs), torch.cat(pos))
    return nn.functional.binary_cross_entropy_with_logits(logits, torch.cat(sal))


# COSINE's margin: pairs with different label sets are pushed until their hidden states are orthogonal
CONTRASTIVE_MARGIN = 1.0


def contrastive_loss(hidden: torch.Tensor, label_sets: torch.Tensor, sure: torch.Tensor) -> torch.Tensor | None:
    """COSINE's pairwise term over the batch rows in ``sure``: d = 1 - cos of the hidden states;
    d^2 for pairs with the same 0/1 label vector, max(0, margin - d)^2 for the others.
    None where fewer than two rows are sure (nothing to compare)."""
    rows = sure.nonzero().flatten()
    if rows.numel() < 2:
        return None
    unit = nn.functional.normalize(hidden[rows], dim=-1)
    distance = 1.0 - unit @ unit.T
    labels = label_sets[rows]
    same = (labels[:, None, :] == labels[None, :, :]).all(dim=-1)
    pair_loss = torch.where(same, distance ** 2, torch.clamp(CONTRASTIVE_MARGIN - distance, min=0.0) ** 2)
    upper = torch.triu(torch.ones_like(distance, dtype=torch.bool), diagonal=1)
    return pair_loss[upper].mean()


def train_round(data: TrainingData, targets: torch.Tensor, config: HeadTrainingConfig,
                log: list[dict], round_index: int, sure: torch.Tensor | None = None) -> MultiTaskHeads:
    """One round of head training. ``sure`` [N] (self-training rounds only) marks the rows the
    previous round was confident of on every label: the contrastive term compares those alone."""
    set_seed(config.seed + round_index)
    heads = MultiTaskHeads(data.doc.shape[1], targets.shape[1], config.head_hidden, config.dropout)
    optim = torch.optim.AdamW(heads.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=config.epochs)
    if not config.soft_targets:
        targets = (targets >= 0.5).float()
    order = list(range(len(data)))
    for epoch in range(config.epochs):
        heads.train()
        random.shuffle(order)
        totals = {"doc": 0.0, "sentence": 0.0, "dropped": 0, "contrastive": 0.0}
        contrasting = config.contrastive_weight > 0 and sure is not None
        for first in range(0, len(order), config.batch_size):
            idx = order[first:first + config.batch_size]
            if contrasting:
                hidden = heads.doc_hidden(data.doc[idx])
                logits = heads.doc_output(hidden)
            else:
                logits = heads.doc_logits(data.doc[idx])
            loss_matrix = nn.functional.binary_cross_entropy_with_logits(logits, targets[idx], reduction="none")
            loss_matrix = loss_matrix * data.weights[idx, None]
            if config.loss_filter > 0 and epoch >= config.loss_filter_warmup:
                # the highest weak losses are dropped; a reviewed label is never dropped
                ranked = loss_matrix.masked_fill(data.clean[idx, None], float("-inf")).flatten()
                keep = max(1, int(round(ranked.numel() * (1 - config.loss_filter))))
                kept = torch.topk(ranked, keep, largest=False).indices
                totals["dropped"] += ranked.numel() - keep
                doc_loss = loss_matrix.flatten()[kept].mean()
            else:
                doc_loss = loss_matrix.mean()
            # the sentence head shares no parameter with the document head: skipping it leaves the latter as is
            sent_loss = _sentence_batch(data, heads, idx, data.doc[idx]) if config.sentence_loss_weight > 0 else None
            loss = doc_loss + (config.sentence_loss_weight * sent_loss if sent_loss is not None else 0.0)
            if contrasting:
                pairs = contrastive_loss(hidden, (targets[idx] >= 0.5), sure[idx])
                if pairs is not None:
                    # the weight is against the loss summed over labels (COSINE's unit), the loop's is a mean
                    loss = loss + config.contrastive_weight * pairs / targets.shape[1]
                    totals["contrastive"] += pairs.item() * len(idx)
            optim.zero_grad()
            loss.backward()
            optim.step()
            totals["doc"] += doc_loss.item() * len(idx)
            totals["sentence"] += (sent_loss.item() if sent_loss is not None else 0.0) * len(idx)
        sched.step()
        if (epoch + 1) % config.log_every == 0 or epoch + 1 == config.epochs:
            log.append({"round": round_index, "epoch": epoch + 1,
                        "doc_loss": round(totals["doc"] / len(data), 5),
                        "sentence_loss": round(totals["sentence"] / len(data), 5),
                        "dropped_targets": totals["dropped"],
                        **({"contrastive": round(totals["contrastive"] / len(data), 5)} if contrasting else {})})
    heads.eval()
    return heads


@torch.no_grad()
def predict_docs(heads: MultiTaskHeads, doc: torch.Tensor) -> torch.Tensor:
    heads.eval()
    return torch.sigmoid(heads.doc_logits(doc))


def self_training_targets(weak: torch.Tensor, predicted: torch.Tensor, confidence: float) -> torch.Tensor:
    """Confident predictions replace the weak target (sharpened to 0/1); the rest stay weak."""
    confident = (predicted >= confidence) | (predicted <= 1 - confidence)
    return torch.where(confident, (predicted >= 0.5).float(), weak)


def next_round_targets(data: TrainingData, predicted: torch.Tensor, confidence: float) -> torch.Tensor:
    """Self-training targets for the next round; a reviewed (clean) row always keeps its own labels."""
    new = self_training_targets(data.targets, predicted, confidence)
    return torch.where(data.clean[:, None], data.targets, new)


def sure_rows(data: TrainingData, predicted: torch.Tensor, confidence: float) -> torch.Tensor:
    """Rows whose every label the network is confident of (a reviewed row always is)."""
    confident = ((predicted >= confidence) | (predicted <= 1 - confidence)).all(dim=1)
    return confident | data.clean


def train_heads(data: TrainingData, config: HeadTrainingConfig, run_dir: Path | None = None):
    """All rounds; returns the final heads and the log. Writes log.jsonl and checkpoints to run_dir."""
    from safetensors.torch import save_file

    started = time.perf_counter()
    log: list[dict] = []
    targets = data.targets
    heads, sure = None, None
    for round_index in range(config.self_training_rounds + 1):
        heads = train_round(data, targets, config, log, round_index, sure)
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_file(heads.state_dict(), str(run_dir / f"heads-round{round_index}.safetensors"))
        if round_index < config.self_training_rounds:
            predicted = predict_docs(heads, data.doc)
            new_targets = next_round_targets(data, predicted, config.self_training_confidence)
            changed = float(((new_targets >= 0.5) != (targets >= 0.5)).float().mean())
            sure = sure_rows(data, predicted, config.self_training_confidence)
            log.append({"round": round_index, "self_training_changed_fraction": round(changed, 4),
                        "sure_rows_fraction": round(float(sure.float().mean()), 4)})
            targets = new_targets
    seconds = time.perf_counter() - started
    if run_dir is not None:
        with open(run_dir / "log.jsonl", "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"config": asdict(config)}) + "\n")
            for row in log:
                fh.write(json.dumps(row) + "\n")
    return heads, TrainingLog(log, seconds)
