"""Turning rule votes into soft multi-label targets, and sentences into salience targets.

Two aggregators, side by side, because neither is best everywhere:

* `weighted_vote`: Σ weight × vote per label against the label's threshold,
  squashed to a probability. Transparent, per article, needs no fitting.
* `LabelModel`: one binary Dawid-Skene model per label, fitted by EM on
  unlabeled articles. It estimates, for every rule, how often it fires (or
  vetoes, or abstains) on articles that have the label and on those that
  don't, i.e. each rule's accuracy, without gold labels. Abstention is an
  outcome of its own, because keyword rules abstain far more on negatives.

A trained model combines its network with `graded_vote`, the weighted vote
scaled down when few sentences mention the topic (`rule_evidence` picks).

Both aggregators apply the health gate: the `non_health` probability scales every topic
down, so a non-health article gets no topic.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from healthtag.inference.article import Article
from healthtag.models.rules import ArticleVotes, RuleModel
from healthtag.models.taxonomy import NON_HEALTH, Taxonomy

SHARPNESS = 3.0  # slope of the vote → probability squashing
_OUTCOMES = (1, 0, -1)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def apply_gate(probs: dict[str, float]) -> dict[str, float]:
    """Once an article reads as non-health (P ≥ 0.5), scale its topics by P(health).

    Scaling every article would push a topic that sits exactly at its threshold
    (p = 0.5) below it on health articles too, silently costing recall.
    """
    p_nh = probs.get(NON_HEALTH, 0.0)
    if p_nh < 0.5:
        return dict(probs)
    return {k: (v if k == NON_HEALTH else v * (1.0 - p_nh)) for k, v in probs.items()}


def weighted_vote(votes: ArticleVotes, taxonomy: Taxonomy) -> dict[str, float]:
    """P(label) per label (topics and non_health) from the weighted vote, gated."""
    probs = {lab.id: _ungated_vote(votes, lab.id, lab.threshold) for lab in taxonomy.all_labels}
    return apply_gate(probs)


HEADLINE_MENTIONS = 2      # a topic named in the headline is what the article is about
FULL_VOTE_MENTIONS = 3     # from this many mentions on, a topic keeps its whole vote


def mentioning_sentences(art: Article, votes: ArticleVotes) -> dict[str, int]:
    """Per label with a positive vote: how many sentences contain a term its rules matched,
    the headline counting as HEADLINE_MENTIONS; at least 1, since the label's rules did fire."""
    headline = " ".join(x for x in (art.kicker, art.title, art.subtitle) if x)
    out = {}
    for label, terms in votes.terms_by_label().items():
        words = [t for t in terms if "/" not in t]   # density rules report a rate, not a term
        n = sum(1 for s in art.sentences if any(w in s for w in words))
        n += HEADLINE_MENTIONS if any(w in headline for w in words) else 0
        out[label] = max(1, n)
    return out


def prominence(mentions: int) -> float:
    """Share of its vote a topic keeps: 4/7 for one mention, 6/7 for two, all of it from three.

    1 − 2^−n (each mention halves the doubt), scaled so that FULL_VOTE_MENTIONS
    keep the vote whole; a topic the article dwells on is then decided exactly as
    the rules decide it, also for labels whose threshold dev cannot calibrate.
    """
    return min(1.0, (1.0 - 0.5 ** mentions) / (1.0 - 0.5 ** FULL_VOTE_MENTIONS))


def graded_vote(art: Article, votes: ArticleVotes, taxonomy: Taxonomy,
                flat: dict[str, float] | None = None) -> dict[str, float]:
    """The weighted vote with each topic scaled by how prominent it is (`prominence`).

    Gold tags name what an article is about, while a keyword rule fires on a
    single passing mention; most rule errors on dev are such mentions. The
    scaling gives per-label thresholds a way to ask for more than one mention.
    It has no fitted parameter; `non_health` is left as voted. `flat` is the
    article's weighted vote when the caller already has it.
    """
    probs = flat if flat is not None else weighted_vote(votes, taxonomy)
    mentions = mentioning_sentences(art, votes)
    return {k: v if k == NON_HEALTH else v * prominence(mentions.get(k, 0)) for k, v in probs.items()}


RULE_EVIDENCE = ("weighted_vote", "graded_vote")


def rule_evidence(kind: str, art: Article, votes: ArticleVotes, taxonomy: Taxonomy,
                  flat: dict[str, float] | None = None) -> dict[str, float]:
    """The rule scores a trained model combines with its network (`kind` from its config);
    `flat` is the article's weighted vote when the caller already has it."""
    if kind == "weighted_vote":
        return flat if flat is not None else weighted_vote(votes, taxonomy)
    if kind == "graded_vote":
        return graded_vote(art, votes, taxonomy, flat)
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


def decide(probs: dict[str, float], threshold: float | dict[str, float] = 0.5) -> tuple[bool, list[str]]:
    """(health, predicted topic ids, best first) from gated probabilities."""
    def thr(k: str) -> float:
        return threshold if isinstance(threshold, float) else threshold.get(k, 0.5)

    if probs.get(NON_HEALTH, 0.0) >= thr(NON_HEALTH):
        return False, []
    topics = [k for k, v in probs.items() if k != NON_HEALTH and v >= thr(k)]
    return True, sorted(topics, key=lambda k: -probs[k])


def predicted_labels(probs: dict[str, float], threshold: float | dict[str, float] = 0.5) -> list[str]:
    """The label list as gold files write it: the topics, or ['non_health'] alone."""
    health, topics = decide(probs, threshold)
    return topics if health else [NON_HEALTH]


# ---------------------------------------------------------------- label model


@dataclass
class BinaryDawidSkene:
    """Dawid-Skene for one binary label: P(y=1) and, per rule, P(vote | y).

    theta[j, c, o]: probability that rule j gives outcome o ∈ (+1, 0, −1)
    (index 0, 1, 2) when the true class is c ∈ {0, 1}.
    """

    prior: float = 0.5
    theta: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 3)))
    iterations: int = 0

    @staticmethod
    def _onehot(votes: np.ndarray) -> np.ndarray:
        # votes (n, m) in {-1,0,1} -> (n, m, 3) one-hot over outcomes (+1, 0, -1)
        return np.stack([votes == o for o in _OUTCOMES], axis=-1).astype(np.float64)

    def posterior(self, votes: np.ndarray) -> np.ndarray:
        if votes.shape[1] == 0:
            return np.full(votes.shape[0], self.prior)
        oh = self._onehot(votes)
        log_t = np.log(np.clip(self.theta, 1e-6, 1.0))
        ll1 = math.log(max(self.prior, 1e-6)) + np.einsum("nmo,mo->n", oh, log_t[:, 1, :])
        ll0 = math.log(max(1 - self.prior, 1e-6)) + np.einsum("nmo,mo->n", oh, log_t[:, 0, :])
        return 1.0 / (1.0 + np.exp(np.clip(ll0 - ll1, -50, 50)))

    def fit(
        self, votes: np.ndarray, init: np.ndarray, smoothing: float = 1.0, max_iter: int = 200, tol: float = 1e-6,
        fixed_prior: float | None = None,
    ) -> "BinaryDawidSkene":
        """EM from an initial posterior (the weighted vote), with Dirichlet smoothing.

        `fixed_prior` holds P(y=1) instead of re-estimating it: with two or three
        correlated keyword rules per label, free EM tends to shrink a rare
        label's prior until no article can reach 0.5.
        """
        oh = self._onehot(votes)
        q = np.clip(init.astype(np.float64), 1e-3, 1 - 1e-3)
        for it in range(max_iter):
            self.prior = fixed_prior if fixed_prior is not None else float((q.sum() + 1.0) / (len(q) + 2.0))
            pos = np.einsum("n,nmo->mo", q, oh) + smoothing
            neg = np.einsum("n,nmo->mo", 1 - q, oh) + smoothing
            self.theta = np.stack([neg / neg.sum(-1, keepdims=True), pos / pos.sum(-1, keepdims=True)], axis=1)
            new_q = self.posterior(votes)
            self.iterations = it + 1
            if np.max(np.abs(new_q - q)) < tol:
                q = new_q
                break
            q = new_q
        return self

    def rule_accuracy(self) -> list[dict[str, float]]:
        """Per rule: P(y = the rule's verdict | the rule voted), for + and − votes."""
        out = []
        for j in range(self.theta.shape[0]):
            t1, t0 = self.theta[j, 1], self.theta[j, 0]
            pos = self.prior * t1[0] / max(self.prior * t1[0] + (1 - self.prior) * t0[0], 1e-12)
            neg = (1 - self.prior) * t0[2] / max(self.prior * t1[2] + (1 - self.prior) * t0[2], 1e-12)
            out.append({"acc_pos": float(pos), "acc_neg": float(neg)})
        return out


class LabelModel:
    """Per-label Dawid-Skene over the taxonomy's rules, fitted on unlabeled articles."""

    def __init__(self, rule_model: RuleModel):
        self.rule_model = rule_model
        self.taxonomy = rule_model.taxonomy
        self.columns = {
            lab.id: [rule_model.rule_index[r.name] for r in lab.rules] for lab in self.taxonomy.all_labels
        }
        self.models: dict[str, BinaryDawidSkene] = {}

    def fit(self, all_votes: list[ArticleVotes]) -> "LabelModel":
        """Fit non_health on all articles, each topic on the articles that pass the health gate.

        Topics are only defined for health articles; fitted on a pool that is
        mostly general news, a topic's class prior collapses towards zero and
        every rule looks like noise.
        """
        mat = self.rule_model.vote_matrix(all_votes)
        nh = self.taxonomy.non_health
        nh_init = np.array([_ungated_vote(v, nh.id, nh.threshold) for v in all_votes])
        self.models[nh.id] = BinaryDawidSkene().fit(mat[:, self.columns[nh.id]], nh_init)
        health = self.models[nh.id].posterior(mat[:, self.columns[nh.id]]) < 0.5
        if not health.any():
            health = np.ones(len(all_votes), dtype=bool)
        for lab in self.taxonomy.labels:
            init = np.array([_ungated_vote(v, lab.id, lab.threshold) for v, h in zip(all_votes, health) if h])
            prior = float(((init >= 0.5).sum() + 1.0) / (len(init) + 2.0))
            self.models[lab.id] = BinaryDawidSkene().fit(mat[health][:, self.columns[lab.id]], init, fixed_prior=prior)
        return self

    def predict_proba(self, all_votes: list[ArticleVotes]) -> list[dict[str, float]]:
        mat = self.rule_model.vote_matrix(all_votes)
        cols = {k: self.models[k].posterior(mat[:, c]) for k, c in self.columns.items()}
        return [apply_gate({k: float(cols[k][i]) for k in cols}) for i in range(len(all_votes))]

    def rule_report(self) -> dict[str, dict[str, float]]:
        out = {}
        for lab_id, model in self.models.items():
            for j, acc in zip(self.columns[lab_id], model.rule_accuracy()):
                out[self.rule_model.rules[j].name] = acc
        return out

    def to_dict(self) -> dict:
        return {
            k: {"prior": m.prior, "theta": m.theta.tolist(), "rules": [self.rule_model.rules[j].name for j in self.columns[k]]}
            for k, m in self.models.items()
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, rule_model: RuleModel) -> "LabelModel":
        """A saved label model; it must have been fitted with the same rules."""
        lm = cls(rule_model)
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for k, cols in lm.columns.items():
            names = [rule_model.rules[j].name for j in cols]
            if k not in data or data[k]["rules"] != names:
                raise ValueError(f"{path}: label model was fitted with other rules for '{k}'; refit it")
            lm.models[k] = BinaryDawidSkene(prior=data[k]["prior"], theta=np.array(data[k]["theta"]))
        return lm


def _ungated_vote(votes: ArticleVotes, label: str, threshold: float) -> float:
    """P(label) = sigmoid(k · (Σ weight × vote − threshold)): 0.5 exactly at the threshold."""
    return _sigmoid(SHARPNESS * (votes.score(label) - threshold))


# ---------------------------------------------------------------- salience


_FIGURE = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|万|亿|人次|余|多|个|家|例|名|元|台|张|项|所|支|次|倍|床|岁|毫升|公里)")
_ACTOR = re.compile(r"医院|卫健委|卫生健康委|卫健局|卫生院|疾控|中心|政府|委员会|协会|学会|血站|社区|医共体|医联体|集团")
_OUTCOME = re.compile(r"成功|完成|实现|提升|提高|达到|累计|覆盖|建成|获得|荣获|启动|开展|举行|召开|签约|揭牌|入选|通过|救治|接诊|服务|惠及|减少|降低")
_QUOTE_ATTRIB = re.compile(r"(?:说|表示|介绍|坦言|感慨|告诉记者)[。！!]?$")
_SCENE = re.compile(r"^(?:近日|清晨|当天|傍晚|夜晚|深夜|凌晨|早上|“)")
_CREDIT = re.compile(r"记者|通讯员|摄影|摄$")


def sentence_salience(art: Article, votes: ArticleVotes, topics: list[str]) -> list[float]:
    """Weak salience in [0, 1] for each of `art.sentences`, for training the summarizer.

    A summary sentence should say who did what with what result: topic terms
    of the article's own labels, a figure, an acting institution and an outcome
    verb count for it; quotes, scene-setting openings, bylines and very long or
    very short sentences count against it. Lead position helps a little.
    """
    sents = art.sentences
    if not sents:
        return []
    terms_by_label = votes.terms_by_label()
    topic_terms = {t for lab in topics for t in terms_by_label.get(lab, []) if "/" not in t}
    n = len(sents)
    raw = []
    for i, s in enumerate(sents):
        score = 0.0
        score += min(sum(1 for t in topic_terms if t in s), 3) / 3.0
        score += 0.5 * bool(_FIGURE.search(s))
        score += 0.4 * bool(_ACTOR.search(s))
        score += 0.4 * bool(_OUTCOME.search(s))
        score += 0.6 * (1.0 - i / n)
        if s.startswith("“") or _QUOTE_ATTRIB.search(s):
            score -= 0.8
        if i == 0 and _SCENE.match(s) and not _ACTOR.search(s):
            score -= 0.5
        if len(s) < 12 or _CREDIT.search(s) and len(s) < 40:
            score -= 1.0
        if len(s) > 160:
            score -= 0.3
        raw.append(score)
    lo, hi = min(raw), max(raw)
    if hi - lo < 1e-9:
        return [0.5] * n
    return [round((x - lo) / (hi - lo), 4) for x in raw]
