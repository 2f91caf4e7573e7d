"""The multi-task network: one encoder pass gives topic scores and sentence salience.

``ArticleEncoder`` runs the windows of many articles through the encoder
and pools the token states twice, into one vector per article (document
head input) and one per sentence (sentence head input). ``MultiTaskHeads``
holds the two heads. They are separate modules because the default model
keeps the encoder frozen: training then needs the pooled vectors only, which
are computed once and cached (see ``training/features.py``), while
inference chains both in one forward pass.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .chunking import ArticleTokens

N_POSITION_FEATURES = 4


@dataclass
class PooledArticle:
    """Encoder output for one article: its vector and one vector per sentence."""

    doc: torch.Tensor            # [H]
    sentences: torch.Tensor      # [n_sentences, H]; zero rows for sentences with no tokens
    sentence_tokens: list[int]   # tokens per sentence (0 means never seen by the encoder)


def position_features(n_sentences: int, sentence_chars: Sequence[int]) -> torch.Tensor:
    """Where a sentence sits and how long it is: what Lead-N knows, given to the head too."""
    rows = []
    for i in range(n_sentences):
        rows.append([i / max(n_sentences, 1), 1.0 / (1 + i),
                     min(sentence_chars[i], 200) / 200.0, math.log1p(n_sentences) / 5.0])
    return torch.tensor(rows, dtype=torch.float32).reshape(n_sentences, N_POSITION_FEATURES)


class ArticleEncoder:
    """Window batching and pooling around a transformers encoder (no trainable state)."""

    def __init__(self, model: nn.Module, bos_id: int, eos_id: int, pad_id: int,
                 batch_windows: int = 16, layers: Sequence[int] = (-1,), pad_to: int | None = None,
                 width_step: int | None = None) -> None:
        self.model = model
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.batch_windows = batch_windows
        self.pad_to = pad_to      # the widest a padded batch gets (see runtime.padded_width); None: as wide as its longest row
        self.width_step = width_step   # with pad_to: each window padded to the next multiple of this, batched by width
        self.layers = tuple(layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, articles: Sequence[ArticleTokens]) -> list[PooledArticle]:
        """Pool every article; windows from different articles share batches.

        Windows are sorted by length before batching so padding stays small.
        With several ``layers`` the pooled vectors of each layer are
        concatenated (used to compare layers from one extraction pass).
        """
        pool = WindowPool(articles, self.hidden_size * len(self.layers))
        for batch, input_ids, mask in self.window_batches(articles):
            pool.add(batch, self.window_states(batch, input_ids, mask))
        return pool.result()

    def padded_width(self, n_tokens: int) -> int:
        """The width a window of ``n_tokens`` (with <s> and </s>) runs at, whatever its batch mates.

        With ``pad_to`` alone every window runs at ``pad_to``; with ``width_step`` too, at the
        next multiple of the step (at most ``pad_to``), which spares the padding of an article's
        short last window while keeping each window's width, and so its rounding, its own.
        """
        if not self.pad_to:
            return n_tokens
        if not self.width_step:
            return max(self.pad_to, n_tokens)
        return max(n_tokens, min(self.pad_to, -(-n_tokens // self.width_step) * self.width_step))

    def window_batches(self, articles: Sequence[ArticleTokens]):
        """(jobs, input_ids, mask) per batch; a job is (article index, window index), longest first.

        Padded batches only hold windows of one padded width, so a window meets the same
        kernels in any batch of two or more rows; a lone row gets a blank partner.
        """
        jobs = [(a, w) for a in range(len(articles)) for w in range(len(articles[a].windows))]
        length = {job: articles[job[0]].windows[job[1]][1] - articles[job[0]].windows[job[1]][0] + 2 for job in jobs}
        jobs.sort(key=lambda job: -length[job])   # longest first, so each padded width is one run of jobs
        for _, run in itertools.groupby(jobs, key=lambda job: self.padded_width(length[job]) if self.pad_to else 0):
            same_width = list(run)
            for first in range(0, len(same_width), self.batch_windows):
                batch = same_width[first:first + self.batch_windows]
                yield (batch, *self._batch_tensors(articles, batch))

    def _batch_tensors(self, articles: Sequence[ArticleTokens], batch: list[tuple[int, int]]):
        rows = []
        for a, w in batch:
            start, end = articles[a].windows[w]
            rows.append([self.bos_id] + articles[a].ids[start:end] + [self.eos_id])
        width = max(self.padded_width(len(r)) for r in rows)
        if self.pad_to and len(rows) == 1:
            rows.append([self.bos_id, self.eos_id])   # a lone row runs other kernels; this one is ignored
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        return input_ids, mask

    def window_states(self, batch: list[tuple[int, int]], input_ids: torch.Tensor,
                      mask: torch.Tensor) -> torch.Tensor:
        """Token states [B, T, H] of one batch of windows (a subclass may read them from a cache)."""
        if self.layers == (-1,):
            return self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        out = self.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        return torch.cat([out.hidden_states[k] for k in self.layers], dim=-1)


class WindowPool:
    """Accumulates window token states into article and sentence means.

    A token seen by two overlapping windows gets half its weight from each,
    so every token counts once however the windows fall.
    """

    def __init__(self, articles: Sequence[ArticleTokens], hidden: int) -> None:
        self.articles = articles
        self.doc_sum = [torch.zeros(hidden) for _ in articles]
        self.sent_sum = [torch.zeros(a.n_sentences + 1, hidden) for a in articles]

    def add(self, batch: list[tuple[int, int]], states: torch.Tensor) -> None:
        for i, (a, w) in enumerate(batch):
            art = self.articles[a]
            start, end = art.windows[w]
            if end == start:
                continue
            weights = 1.0 / torch.tensor(art.coverage[start:end], dtype=torch.float32)
            token_states = states[i, 1:1 + end - start].float() * weights[:, None]
            self.doc_sum[a] += token_states.sum(dim=0)
            owners = torch.tensor(art.segment_of_token[start:end], dtype=torch.long)
            self.sent_sum[a].index_add_(0, owners, token_states)

    def result(self) -> list[PooledArticle]:
        pooled = []
        for a, art in enumerate(self.articles):
            counts = [0] * (art.n_sentences + 1)
            for owner in art.segment_of_token:
                counts[owner] += 1
            denom = torch.tensor([max(c, 1) for c in counts], dtype=torch.float32)[:, None]
            sentences = (self.sent_sum[a] / denom)[1:]
            doc = self.doc_sum[a] / max(art.n_tokens, 1)
            pooled.append(PooledArticle(doc, sentences, counts[1:]))
        return pooled


class MultiTaskHeads(nn.Module):
    """Document head (topics + non_health, multi-label) and sentence head (salience)."""

    def __init__(self, hidden: int, n_outputs: int, head_hidden: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.hidden, self.n_outputs, self.head_hidden = hidden, n_outputs, head_hidden
        self.doc = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, head_hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(head_hidden, n_outputs))
        self.sentence = nn.Sequential(nn.Dropout(dropout),
                                      nn.Linear(3 * hidden + N_POSITION_FEATURES, head_hidden), nn.GELU(),
                                      nn.Dropout(dropout), nn.Linear(head_hidden, 1))

    def doc_logits(self, doc: torch.Tensor) -> torch.Tensor:
        return self.doc(doc)

    def doc_hidden(self, doc: torch.Tensor) -> torch.Tensor:
        """The document head's hidden layer, what a representation-level regulariser acts on
        (``doc_logits(x) == doc_output(doc_hidden(x))``; the modules are the same ones)."""
        return self.doc[:3](doc)

    def doc_output(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.doc[3:](hidden)

    def sentence_logits(self, sentences: torch.Tensor, doc_of_sentence: torch.Tensor,
                        positions: torch.Tensor) -> torch.Tensor:
        """``doc_of_sentence`` holds, per sentence row, its article's document vector."""
        features = torch.cat([sentences, doc_of_sentence, sentences * doc_of_sentence, positions], dim=-1)
        return self.sentence(features).squeeze(-1)

    def hyperparameters(self) -> dict:
        return {"hidden": self.hidden, "n_outputs": self.n_outputs, "head_hidden": self.head_hidden}
