"""Applying the keyword labeling functions of a taxonomy to articles.

Every vote carries its provenance (which rule, which exact terms), because the
users of this tool must be able to see *why* an article got a tag, and the
rule authors must be able to audit a rule's hits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from healthtag.text.article import Article
from healthtag.text.textnorm import split_sentences

from .taxonomy import Rule, Taxonomy

LEAD_CHARS = 200
FULL_LENGTH_CHARS = 600  # min_hits is stated for an article this long or longer


def needed_hits(min_hits: int, n_chars: int) -> int:
    """Hits a rule needs in a text of n_chars: min_hits scaled down for short texts.

    A 100-character news brief mentions its topic once; asking it for three
    keyword hits, like a 2,000-character feature, would silence every rule.
    """
    scaled = math.ceil(min_hits * n_chars / FULL_LENGTH_CHARS)
    return max(1, min(min_hits, scaled))


@dataclass(frozen=True)
class RuleHit:
    """A rule that voted: +1 for its label, -1 against it."""

    rule: str
    label: str
    vote: int
    weight: float
    hits: int
    terms: tuple[str, ...]


@dataclass
class ArticleVotes:
    hits: list[RuleHit] = field(default_factory=list)

    def score(self, label: str) -> float:
        """Weighted vote of the label's firing rules (Σ weight × vote)."""
        return sum(h.weight * h.vote for h in self.hits if h.label == label)

    def terms_by_label(self, positive_only: bool = True) -> dict[str, list[str]]:
        """Matched terms per label, in first-seen order (the `rule_hits` of the output contract)."""
        out: dict[str, list[str]] = {}
        for h in self.hits:
            if positive_only and h.vote < 0:
                continue
            bucket = out.setdefault(h.label, [])
            bucket.extend(t for t in h.terms if t not in bucket)
        return out


@dataclass
class _Texts:
    """The scoped texts of one article, computed once and shared by all rules."""

    title: str
    lead: str
    body: str
    body_sentences: list[str]

    @property
    def length(self) -> int:
        return len(self.title) + len(self.body)

    @classmethod
    def of(cls, art: Article) -> "_Texts":
        title = " ".join(x for x in (art.kicker, art.title, art.subtitle) if x)
        body = art.text
        first_para = body.split("\n", 1)[0]
        sentences = art.sentences or [s for p in body.split("\n") for s in split_sentences(p)]
        return cls(title=title, lead=first_para[:LEAD_CHARS], body=body, body_sentences=sentences)

    def scoped(self, scope: tuple[str, ...]) -> list[str]:
        texts = []
        if "title" in scope:
            texts.append(self.title)
        if "body" in scope:
            texts.append(self.body)
        elif "lead" in scope:
            texts.append(self.lead)
        return texts

    def sentences(self, scope: tuple[str, ...]) -> list[str]:
        out = [self.title] if "title" in scope and self.title else []
        if "body" in scope:
            out.extend(self.body_sentences)
        elif "lead" in scope:
            out.extend(split_sentences(self.lead))
        return out


def _alternation(terms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)))


class RuleModel:
    """All labeling functions of a taxonomy, compiled once; `apply` is a pure function of the article."""

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self.rules: list[Rule] = taxonomy.rules
        self._term_res = {r.name: _alternation(r.terms) for r in self.rules if r.terms}
        self._group_res = {r.name: [_alternation(g) for g in r.groups] for r in self.rules if r.groups}

    @cached_property
    def rule_index(self) -> dict[str, int]:
        return {r.name: i for i, r in enumerate(self.rules)}

    def _fire(self, rule: Rule, t: _Texts) -> tuple[int, tuple[str, ...]] | None:
        """(hits, matched terms) when the rule fires, else None."""
        if rule.kind in ("keywords", "title", "veto", "regex"):
            rx = rule.pattern if rule.kind == "regex" else self._term_res[rule.name]
            found = [m.group(0) for text in t.scoped(rule.scope) for m in rx.finditer(text)]
            found = [f for f in found if f]
            if len(found) >= needed_hits(rule.min_hits, t.length):
                return len(found), tuple(dict.fromkeys(found))
            return None
        if rule.kind == "cooccur":
            hits, terms = 0, []
            for sent in t.sentences(rule.scope):
                per_group = [rx.findall(sent) for rx in self._group_res[rule.name]]
                if all(per_group):
                    hits += 1
                    terms.extend(x for g in per_group for x in g)
            return (hits, tuple(dict.fromkeys(terms))) if hits >= needed_hits(rule.min_hits, t.length) else None
        if rule.kind == "density":
            texts = t.scoped(rule.scope)
            n_chars = sum(len(x) for x in texts)
            if n_chars == 0:
                return None
            found = [m.group(0) for text in texts for m in self._term_res[rule.name].finditer(text)]
            density = 1000.0 * len(found) / n_chars
            fired = density < rule.below if rule.below is not None else density > (rule.above or 0.0)
            return (len(found), (f"{density:.1f}/1000字",)) if fired else None
        raise ValueError(f"unknown rule kind {rule.kind}")  # parse_taxonomy rejects these

    def apply(self, art: Article) -> ArticleVotes:
        t = _Texts.of(art)
        votes = ArticleVotes()
        for rule in self.rules:
            res = self._fire(rule, t)
            if res is not None:
                hits, terms = res
                votes.hits.append(RuleHit(rule.name, rule.label, rule.vote, rule.weight, hits, terms))
        return votes

    def vote_matrix(self, all_votes: list[ArticleVotes]) -> np.ndarray:
        """Votes as an (articles × rules) matrix in {-1, 0, +1}, the label model's input."""
        mat = np.zeros((len(all_votes), len(self.rules)), dtype=np.int8)
        for i, v in enumerate(all_votes):
            for h in v.hits:
                mat[i, self.rule_index[h.rule]] = h.vote
        return mat
