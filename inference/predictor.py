"""`Predictor`: topics with scores, a health flag, an abstract and keyphrases per article.

Stateless after loading (DESIGN.md, "Growing past one machine"):
``predict_many`` is a pure function of its input batch, so one predictor per
worker can run inside any batch engine. Each batch goes through the encoder
once; if a batch fails, its articles are retried one by one so a single bad
article carries an ``error`` and never costs the others their results.
"""
from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from healthtag.models.model_config import SummaryBudget
from healthtag.models.evidence import DEFAULT_THRESHOLD
from healthtag.models.scoring import BatchScores, Decision, Scorer, decide_batch, near_threshold
from healthtag.models.taxonomy import NON_HEALTH, Taxonomy, load_taxonomy, model_taxonomy, taxonomy_digest

from healthtag.text.article import Article
from healthtag.text.highlight import term_spans

from .segment import article_from_record, segment_page
from .summarize import lead_scores, summarize, textrank_scores

SUMMARIZERS = ("model", "lead", "textrank")

log = logging.getLogger(__name__)


@dataclass
class TopicTag:
    id: str
    name: str
    score: float


@dataclass
class Prediction:
    """One output record; ``to_dict`` is the line `healthtag tag` writes."""

    id: str
    source: str
    title: str = ""
    health: bool | None = None
    labels: list[TopicTag] = field(default_factory=list)
    summary: str | None = None
    keyphrases: list[str] = field(default_factory=list)
    rule_hits: dict[str, list[str]] = field(default_factory=dict)
    disagreement: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # what a reviewer needs to see why (offsets of the hit terms in `text`) and what to check first
    text: str = ""
    date: str | None = None
    rule_spans: dict[str, list[list[int]]] = field(default_factory=dict)
    near_threshold: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["labels"] = [asdict(t) for t in self.labels]
        return out


def error_prediction(article_id: str, source: str, message: str, title: str = "") -> Prediction:
    return Prediction(id=article_id, source=source, title=title, error=message)


_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_STOP_CHARS = set("的了和与及在对是为将等中上下也其这那有被把从向以于并或而")


def keyphrases(text: str, top: int = 5, seed_terms: Iterable[str] = ()) -> list[str]:
    """Rule terms first, then the most repeated 2-4 character Chinese n-grams of the article.

    Cheap and explainable; an n-gram inside a longer kept one is dropped.
    """
    phrases: list[str] = []
    for term in seed_terms:
        if term not in phrases and "/" not in term and len(term) >= 2:
            phrases.append(term)
    counts: Counter[str] = Counter()
    for run in _HAN_RUN.findall(text):
        for n in (4, 3, 2):
            counts.update(run[i:i + n] for i in range(len(run) - n + 1))
    # stop characters are checked on the distinct repeated grams only: far fewer than the grams counted
    ranked = sorted((g for g, c in counts.items() if c >= 2 and g[0] not in _STOP_CHARS and g[-1] not in _STOP_CHARS),
                    key=lambda g: (-counts[g] * len(g), g))
    for gram in ranked:
        if len(phrases) >= top:
            break
        if any(gram in p or p in gram for p in phrases):
            continue
        phrases.append(gram)
    return phrases[:top]


class Predictor:
    """Load once, then ``predict`` / ``predict_many`` / ``predict_page``."""

    def __init__(self, taxonomy: Taxonomy, model=None, summarizer: str | None = None,
                 budget: SummaryBudget | None = None, batch_size: int = 16) -> None:
        self.taxonomy = taxonomy
        self.model = model
        self.summarizer = summarizer or ("model" if model is not None else "lead")
        if self.summarizer not in SUMMARIZERS:
            raise ValueError(f"summarizer must be one of {SUMMARIZERS}")
        if self.summarizer == "model" and model is None:
            raise ValueError("the model summarizer needs a model; use lead or textrank with rules_only")
        if model is not None:
            cfg = model.config
            self.scorer = Scorer(taxonomy, cfg.labels, cfg.combination, network=model)
            self.thresholds, self.network_thresholds = dict(cfg.thresholds), dict(cfg.network_thresholds)
            self.budget = budget or cfg.summary
        else:
            self.scorer = Scorer(taxonomy)
            self.thresholds, self.network_thresholds = {}, {}
            self.budget = budget or SummaryBudget()
        self.batch_size = batch_size
        # articles the rules' health gate excluded whatever the network said, tagged without it
        self.gated_without_network = 0

    @classmethod
    def load(cls, path: str | Path | None = None, *, rules_only: bool = False, summarizer: str | None = None,
             batch_size: int = 16, taxonomy: str | Path | None = None, allow_pickle: bool = False,
             runtime: str = "auto", precision: str | None = None) -> "Predictor":
        """The shipped model by default; ``path`` for any trained directory; ``rules_only`` for the rules.

        ``runtime``: ``auto`` (the model's fast path where it has one), ``fast`` or ``full``;
        ``precision`` overrides the encoder arithmetic (``fp32`` computes what a CPU without bf16 does).
        ``allow_pickle`` is the only way to let a custom encoder load pickled weights.
        ``taxonomy``: other rules than the model's (its own copy when it was trained on a custom taxonomy,
        else the bundled one); thresholds fitted for other rules are then logged as such.
        """
        from healthtag.resources import bundled_model_dir

        if rules_only:
            return cls(load_taxonomy(taxonomy), None, summarizer, batch_size=batch_size)
        from healthtag.models.topic_model import ModelLoadError, TopicSummaryModel

        model_dir = Path(path) if path else bundled_model_dir()
        tax = model_taxonomy(model_dir, taxonomy)   # a model trained on other rules brings them along
        model = TopicSummaryModel.load(model_dir, allow_pickle=allow_pickle, runtime=runtime, precision=precision)
        missing = set(model.labels) - {lab.id for lab in tax.all_labels}
        if missing:
            raise ModelLoadError(f"model labels {sorted(missing)} are not in the taxonomy {tax.source}")
        recorded, in_use = model.config.taxonomy_digest, taxonomy_digest(tax)
        if recorded is not None and recorded != in_use:
            log.warning("the taxonomy in use (%s, digest %s) differs from the one %s was calibrated with "
                        "(digest %s): its thresholds were fitted for other rules", tax.source, in_use,
                        model.directory, recorded)
        return cls(tax, model, summarizer, batch_size=batch_size)

    @property
    def rules_only(self) -> bool:
        return self.model is None

    # ------------------------------------------------------------- entry points

    def predict(self, text: str, title: str | None = None, id: str = "article") -> Prediction:
        art = article_from_record({"id": id, "title": title or "", "text": text}, id)
        return next(self.predict_articles([art]))

    def predict_page(self, page_text: str, source: str = "page") -> list[Prediction]:
        from .ingest import page_from_text

        arts = [a for a in segment_page(page_from_text(page_text, source)) if a.kind == "article"]
        return list(self.predict_articles(arts))

    def predict_many(self, items: Iterable[str | dict | Article], batch_size: int | None = None) -> Iterator[Prediction]:
        """Streaming and batched; accepts texts, ``{"id", "title", "text"}`` dicts or Articles."""
        def as_article(i: int, item) -> Article | Prediction:
            if isinstance(item, Article):
                return item
            if isinstance(item, str):
                return article_from_record({"id": f"item-{i}", "title": "", "text": item}, "predict_many")
            if isinstance(item, dict):
                if not isinstance(item.get("text"), str):
                    return error_prediction(str(item.get("id", f"item-{i}")), "predict_many", "missing 'text'")
                return article_from_record(item, "predict_many")
            return error_prediction(f"item-{i}", "predict_many", f"unsupported item type {type(item).__name__}")
        return self.predict_articles((as_article(i, x) for i, x in enumerate(items)), batch_size)

    def predict_articles(self, articles: Iterable[Article | Prediction], batch_size: int | None = None) -> Iterator[Prediction]:
        size = batch_size or self.batch_size
        iterator = iter(articles)
        while True:
            batch = list(itertools.islice(iterator, size))
            if not batch:
                return
            yield from self._predict_batch(batch)

    # ---------------------------------------------------------------- internals

    def _predict_batch(self, batch: list[Article | Prediction]) -> list[Prediction]:
        arts = [a for a in batch if isinstance(a, Article) and self._usable(a)]
        try:
            results = dict(zip((id(a) for a in arts), self._score(arts)))
        except Exception:  # noqa: BLE001 - isolate the article that breaks the batch
            results = {}
            for a in arts:
                try:
                    results[id(a)] = self._score([a])[0]
                except Exception as exc:  # noqa: BLE001
                    results[id(a)] = error_prediction(a.id, a.source, f"{a.source}: {a.id}: {type(exc).__name__}: {exc}", a.title)
        out = []
        for item in batch:
            if isinstance(item, Prediction):
                out.append(item)
            elif id(item) in results:
                out.append(results[id(item)])
            else:
                out.append(error_prediction(item.id, item.source, f"{item.source}: {item.id}: empty article (no text)", item.title))
        return out

    @staticmethod
    def _usable(art: Article) -> bool:
        return bool((art.text or "").strip() or (art.title or "").strip())

    def _score(self, arts: list[Article]) -> list[Prediction]:
        if not arts:
            return []
        predictions, scores = self.predict_with_scores(arts, skip_gated=True)
        if scores.network_ran is not None:
            self.gated_without_network += int((~scores.network_ran).sum())
        return predictions

    def predict_with_scores(self, arts: list[Article], skip_gated: bool = False) -> tuple[list[Prediction], BatchScores]:
        """Predictions of one batch together with the scores they were decided from (for checks).

        ``skip_gated`` (what tagging does) leaves the network out where the rules' health gate
        excludes an article whatever the network says (`Scorer.needs_network`): the same health
        flag, topics and abstract, no network scores, and so an empty disagreement list.
        """
        gate = self.thresholds.get(NON_HEALTH, DEFAULT_THRESHOLD) if skip_gated else None
        scores = self.scorer.score(arts, skip_gated_at=gate)
        decisions = decide_batch(scores, self.thresholds, self.network_thresholds)
        return [self._prediction(art, scores, i, d) for i, (art, d) in enumerate(zip(arts, decisions))], scores

    def _prediction(self, art: Article, scores: BatchScores, i: int, decision: Decision) -> Prediction:
        tax = self.taxonomy
        row = scores.row(i)
        topics = decision.topics
        hits = {lab: terms for lab, terms in scores.votes[i].terms_by_label().items() if lab in topics}
        sentence_scores = scores.sentence[i] if scores.sentence is not None else None
        return Prediction(
            id=art.id, source=art.source, title=art.title, health=decision.health,
            labels=[TopicTag(lab, tax.name_of(lab), round(row[lab], 4)) for lab in topics],
            summary=self._summary(art, sentence_scores) if decision.health else None,
            keyphrases=keyphrases(f"{art.title}\n{art.text}", seed_terms=[t for ts in hits.values() for t in ts]),
            rule_hits=hits, disagreement=decision.disagreement, warnings=list(art.warnings),
            text=art.text, date=art.date, rule_spans={lab: term_spans(art.text, terms) for lab, terms in hits.items()},
            near_threshold=[lab for lab in scores.labels if (decision.health or lab == NON_HEALTH)
                            and near_threshold(row[lab], self.thresholds.get(lab, DEFAULT_THRESHOLD))])

    def _summary(self, art: Article, sentence_scores) -> str:
        sents = art.sentences
        if self.summarizer == "model" and sentence_scores is not None:
            scores = list(sentence_scores)
        elif self.summarizer == "textrank":
            scores = textrank_scores(sents)
        else:
            scores = lead_scores(len(sents))
        return summarize(sents, scores, self.budget)
