"""Rule evidence and the decision rule: what the serving path makes of rule votes.

* `weighted_vote`: Σ weight × vote per label against the label's threshold,
  squashed to a probability. Transparent, per article, needs no fitting.
* `graded_vote`: the weighted vote scaled down when few sentences mention the
  topic (`prominence`), so per-label thresholds can ask for more than one
  passing mention.
* `decide`: the one function that turns scores into (health, topics).

Every constant that changes a prediction lives in `VoteSettings`, which a
model directory records in its ``config.json``; a code edit to a default
therefore cannot silently change what a shipped model does.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping

from healthtag.text.article import Article

from .rules import ArticleVotes
from .taxonomy import NON_HEALTH, Taxonomy

RULE_EVIDENCE = ("weighted_vote", "graded_vote")
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class VoteSettings:
    """The constants of the rule evidence (recorded per model)."""

    sharpness: float = 3.0          # slope of the vote → probability squashing
    headline_mentions: int = 2      # a topic named in the headline is what the article is about
    full_vote_mentions: int = 3     # from this many mentions on, a topic keeps its whole vote

    def __post_init__(self) -> None:
        if self.sharpness <= 0:
            raise ValueError(f"votes.sharpness must be > 0, not {self.sharpness}")
        if self.headline_mentions < 0:
            raise ValueError(f"votes.headline_mentions must be >= 0, not {self.headline_mentions}")
        if self.full_vote_mentions < 1:
            raise ValueError(f"votes.full_vote_mentions must be >= 1, not {self.full_vote_mentions}")

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_VOTES = VoteSettings()


def ungated_vote(votes: ArticleVotes, label: str, threshold: float, sharpness: float = DEFAULT_VOTES.sharpness) -> float:
    """P(label) = sigmoid(k · (Σ weight × vote − threshold)): 0.5 exactly at the threshold."""
    return 1.0 / (1.0 + math.exp(-sharpness * (votes.score(label) - threshold)))


def apply_gate(probs: Mapping[str, float]) -> dict[str, float]:
    """Once an article reads as non-health (P ≥ 0.5), scale its topics by P(health).

    Scaling every article would push a topic that sits exactly at its threshold
    (p = 0.5) below it on health articles too, silently costing recall.
    """
    p_nh = probs.get(NON_HEALTH, 0.0)
    if p_nh < 0.5:
        return dict(probs)
    return {k: (v if k == NON_HEALTH else v * (1.0 - p_nh)) for k, v in probs.items()}


def weighted_vote(votes: ArticleVotes, taxonomy: Taxonomy, settings: VoteSettings = DEFAULT_VOTES) -> dict[str, float]:
    """P(label) per label (topics and non_health) from the weighted vote, gated."""
    probs = {lab.id: ungated_vote(votes, lab.id, lab.threshold, settings.sharpness) for lab in taxonomy.all_labels}
    return apply_gate(probs)


def mentioning_sentences(art: Article, votes: ArticleVotes, settings: VoteSettings = DEFAULT_VOTES) -> dict[str, int]:
    """Per label with a positive vote: how many sentences contain a term its rules matched,
    the headline counting as `headline_mentions`; at least 1, since the label's rules did fire."""
    headline = " ".join(x for x in (art.kicker, art.title, art.subtitle) if x)
    out = {}
    for label, terms in votes.terms_by_label().items():
        words = [t for t in terms if "/" not in t]   # density rules report a rate, not a term
        n = sum(1 for s in art.sentences if any(w in s for w in words))
        n += settings.headline_mentions if any(w in headline for w in words) else 0
        out[label] = max(1, n)
    return out


def prominence(mentions: int, settings: VoteSettings = DEFAULT_VOTES) -> float:
    """Share of its vote a topic keeps: with the defaults 4/7 for one mention, 6/7 for two, all from three.

    1 − 2^−n (each mention halves the doubt), scaled so that `full_vote_mentions`
    keep the vote whole; a topic the article dwells on is then decided exactly as
    the rules decide it, also for labels whose threshold dev cannot calibrate.
    """
    return min(1.0, (1.0 - 0.5 ** mentions) / (1.0 - 0.5 ** settings.full_vote_mentions))


def graded_vote(art: Article, votes: ArticleVotes, taxonomy: Taxonomy,
                flat: Mapping[str, float] | None = None, settings: VoteSettings = DEFAULT_VOTES) -> dict[str, float]:
    """The weighted vote with each topic scaled by how prominent it is (`prominence`).

    Gold tags name what an article is about, while a keyword rule fires on a
    single passing mention. It has no fitted parameter; `non_health` is left as
    voted. `flat` is the article's weighted vote when the caller already has it.
    """
    probs = flat if flat is not None else weighted_vote(votes, taxonomy, settings)
    mentions = mentioning_sentences(art, votes, settings)
    return {k: v if k == NON_HEALTH else v * prominence(mentions.get(k, 0), settings) for k, v in probs.items()}


def rule_evidence(kind: str, art: Article, votes: ArticleVotes, taxonomy: Taxonomy,
                  flat: Mapping[str, float] | None = None, settings: VoteSettings = DEFAULT_VOTES) -> dict[str, float]:
    """The rule scores a trained model combines with its network (`kind` from its config)."""
    if kind == "weighted_vote":
        return dict(flat) if flat is not None else weighted_vote(votes, taxonomy, settings)
    if kind == "graded_vote":
        return graded_vote(art, votes, taxonomy, flat, settings)
    raise ValueError(f"unknown rule evidence {kind!r}; choose one of {RULE_EVIDENCE}")


def each_rule_alone(votes: ArticleVotes, taxonomy: Taxonomy) -> dict[str, float]:
    """The rules with no aggregation: a label (or the gate) is 1 when any of its rules
    votes for it and none votes against it, else 0; weights and thresholds are ignored.

    This is the "rules" row of the evaluation, the baseline that the aggregators
    and the trained model are measured against.
    """
    out = {}
    for lab in taxonomy.all_labels:
        own = [h.vote for h in votes.hits if h.label == lab.id]
        out[lab.id] = 1.0 if any(v > 0 for v in own) and not any(v < 0 for v in own) else 0.0
    return out


def decide(probs: Mapping[str, float], threshold: float | Mapping[str, float] = DEFAULT_THRESHOLD) -> tuple[bool, list[str]]:
    """(health, predicted topic ids, best first) from gated scores: the one decision rule."""
    def thr(k: str) -> float:
        return float(threshold) if isinstance(threshold, (int, float)) else threshold.get(k, DEFAULT_THRESHOLD)

    if probs.get(NON_HEALTH, 0.0) >= thr(NON_HEALTH):
        return False, []
    topics = [k for k, v in probs.items() if k != NON_HEALTH and v >= thr(k)]
    return True, sorted(topics, key=lambda k: -probs[k])


def predicted_labels(probs: Mapping[str, float], threshold: float | Mapping[str, float] = DEFAULT_THRESHOLD) -> list[str]:
    """The label list as gold files write it: the topics, or ['non_health'] alone."""
    health, topics = decide(probs, threshold)
    return topics if health else [NON_HEALTH]
