"""Turn an article into encoder windows that together cover every token.

The title and each sentence are tokenized as separate segments, so every
content token knows which sentence it belongs to and the sentence head can
pool exactly that sentence's tokens. The concatenated tokens are cut into
overlapping windows (``window`` tokens with ``<s>``/``</s>``, ``overlap``
tokens shared with the next window); a token seen by two windows gets half
its weight from each. Nothing is truncated: a long article simply has more
windows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

PASSAGE_PREFIX = "passage: "


@dataclass
class ArticleTokens:
    """Content tokens of one article and the windows that cover them."""

    ids: list[int]
    segment_of_token: list[int]          # 0 = title, k = sentence k-1
    n_sentences: int
    windows: list[tuple[int, int]] = field(default_factory=list)
    coverage: list[int] = field(default_factory=list)

    @property
    def n_tokens(self) -> int:
        return len(self.ids)


def window_spans(n_tokens: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) content ranges of at most ``window - 2`` tokens, overlapping by ``overlap``."""
    size = window - 2
    if size <= 0:
        raise ValueError("window must leave room for content besides <s> and </s>")
    if not 0 <= overlap < size:
        raise ValueError("overlap must be smaller than the window's content size")
    if n_tokens == 0:
        return [(0, 0)]
    spans = []
    start = 0
    while True:
        end = min(start + size, n_tokens)
        spans.append((start, end))
        if end == n_tokens:
            return spans
        start = end - overlap


def tokens_in_windows(windows: int, window: int, overlap: int) -> int:
    """How many content tokens the first ``windows`` windows cover (what `window_spans` lays out)."""
    size = window - 2
    return size + (windows - 1) * (size - overlap)


def tokenize_article(tokenizer, title: str, sentences: Sequence[str], window: int = 256,
                     overlap: int = 32, prefix: str = PASSAGE_PREFIX,
                     max_tokens: int | None = None) -> ArticleTokens:
    """Segment-wise tokenization plus window layout.

    ``max_tokens`` bounds feature extraction on very long news in training, and
    caps a fast path that encodes only an article's first windows
    (``EncoderSettings.max_windows``); otherwise no text is dropped.
    """
    segments = [prefix + (title or "")] + list(sentences)
    encoded = tokenizer(segments, add_special_tokens=False)["input_ids"]
    ids: list[int] = []
    owner: list[int] = []
    for seg_index, seg_ids in enumerate(encoded):
        ids.extend(seg_ids)
        owner.extend([seg_index] * len(seg_ids))
    if max_tokens is not None and len(ids) > max_tokens:
        ids, owner = ids[:max_tokens], owner[:max_tokens]
    spans = window_spans(len(ids), window, overlap)
    coverage = [0] * len(ids)
    for start, end in spans:
        for t in range(start, end):
            coverage[t] += 1
    return ArticleTokens(ids, owner, len(sentences), spans, coverage)
