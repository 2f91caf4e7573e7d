"""Extractive abstracts: choose whole sentences of the article under a length budget.

The same selector serves the trained model (scores = predicted salience) and
the baselines (Lead-N: position; TextRank: graph centrality), so ROUGE
differences come from the scores alone. Selection is greedy maximal marginal
relevance over character bigrams, stops inside ``[min_chars, max_chars]``,
and returns the chosen sentences in document order. Bylines, photo credits,
captions and date-only lines are never chosen; an abstract is always a
sequence of the article's own sentences (a single overlong sentence is cut at
a clause boundary, still a verbatim prefix).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
from healthtag.models.model_config import SummaryBudget

_BYLINE = re.compile(r"^(（|\()?\s*(本报记者|记者|通讯员|本报讯|文/|图/|文图|摄影|责任编辑|编辑)")
_CREDIT = re.compile(r"(记者|通讯员|特约)\s*\S{1,12}\s*(摄|报道|供图)\s*[）)]?\s*$")
_DATE_ONLY = re.compile(r"^[\s\d年月日号时分:：./\-—（）()]+$")
_CLAUSE_END = "，；、,;"


def usable_sentence(sentence: str) -> bool:
    """False for bylines, photo credits, date-only lines and fragments too short to inform."""
    s = sentence.strip()
    if len(s) < 8 or _DATE_ONLY.match(s):
        return False
    if _BYLINE.match(s) and len(s) < 40:
        return False
    return not (_CREDIT.search(s) and len(s) < 50)


def bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, min(len(a), len(b)))


def select_sentences(sentences: Sequence[str], scores: Sequence[float],
                     budget: SummaryBudget = SummaryBudget()) -> list[int]:
    """Indices (document order) of the abstract's sentences."""
    candidates = [i for i, s in enumerate(sentences) if usable_sentence(s)]
    if not candidates:
        return []
    grams = {i: bigrams(sentences[i]) for i in candidates}
    chosen: list[int] = []
    length = 0
    remaining = set(candidates)
    while remaining and length < budget.min_chars:
        def gain(i: int) -> float:
            overlap = max((similarity(grams[i], grams[j]) for j in chosen), default=0.0)
            return float(scores[i]) - budget.redundancy * overlap
        fitting = [i for i in remaining if length + len(sentences[i]) <= budget.max_chars]
        if not fitting:
            break
        best = max(fitting, key=lambda i: (gain(i), -i))
        chosen.append(best)
        length += len(sentences[best])
        remaining.discard(best)
    return sorted(chosen)


def summarize(sentences: Sequence[str], scores: Sequence[float], budget: SummaryBudget = SummaryBudget()) -> str:
    """The abstract text; empty only when the article has no usable sentence."""
    chosen = select_sentences(sentences, scores, budget)
    if chosen:
        return "".join(sentences[i].strip() for i in chosen)
    usable = [i for i, s in enumerate(sentences) if usable_sentence(s)]
    if not usable:
        return ""
    best = max(usable, key=lambda i: (float(scores[i]), -i))
    return clip_to_clause(sentences[best].strip(), budget.max_chars)


def clip_to_clause(sentence: str, max_chars: int) -> str:
    """A verbatim prefix of at most ``max_chars``, ending at a clause boundary when one exists."""
    if len(sentence) <= max_chars:
        return sentence
    cut = max(sentence.rfind(p, 0, max_chars) for p in _CLAUSE_END)
    return sentence[:cut] if cut > max_chars // 3 else sentence[:max_chars]


# ------------------------------------------------------------------ baselines

def lead_scores(n: int) -> list[float]:
    """Lead-N as scores: earlier is better, so the selector takes sentences in order."""
    return [1.0 - i / max(n, 1) for i in range(n)]


def textrank_scores(sentences: Sequence[str], damping: float = 0.85, iterations: int = 50) -> list[float]:
    """PageRank over a sentence graph weighted by character-bigram overlap."""
    n = len(sentences)
    if n == 0:
        return []
    grams = [bigrams(s) for s in sentences]
    w = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            if grams[i] and grams[j]:
                sim = len(grams[i] & grams[j]) / (np.log(len(grams[i]) + 1) + np.log(len(grams[j]) + 1))
                w[i, j] = w[j, i] = sim
    out = w.sum(axis=1)
    out[out == 0] = 1.0
    transition = w / out[:, None]
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        rank = (1 - damping) / n + damping * transition.T @ rank
    return (rank / rank.max()).tolist()
