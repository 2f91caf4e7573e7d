"""Side-by-side evaluation on a gold file: rules vs label model vs trained model, and summaries.

Topics: the rules each on their own (a label when any of its rules votes for
it and none against), the weighted vote and the label model (fixed 0.5
decisions, as they run in production); then, for a trained model, the rule
evidence it combines with (`weak.rule_evidence`) under calibrated thresholds,
the network alone, and the shipped model (network combined with that
evidence), each with micro/macro-F1, per-label P/R/F1 and non_health
accuracy. The "rule evidence" row is an ablation: it separates what
calibration and graded rule scores give from what the network gives. When
the gold file is the one the model's thresholds were calibrated on, the
calibrated rows use cross-validated thresholds (fitted on the other folds) so
the figures are not the ones that were tuned.

Summaries: Lead-N, TextRank and the model under the same selector and length
budget; ROUGE-1/2/L F1 at character level with ``rouge-chinese``.

    python -m healthtag.training.evaluate --model models/default --gold ../shared/gold/dev.jsonl
"""
from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from healthtag.inference.article import Article
from healthtag.inference.segment import article_from_record
from healthtag.inference.summarize import SummaryBudget, lead_scores, summarize, textrank_scores
from healthtag.models.rules import ArticleVotes, RuleModel
from healthtag.models.taxonomy import Taxonomy, load_taxonomy

from .calibrate import cross_validated_sets, decide_labels
from .topic_eval import TopicReport, format_side_by_side, load_gold_labels, score_topics
from .weak import LabelModel, each_rule_alone, predicted_labels, rule_evidence, weighted_vote


@dataclass
class GoldSet:
    path: Path
    articles: list[Article]
    labels: list[set[str]]
    summaries: list[str | None]

    @property
    def digest(self) -> str:
        return file_digest(self.path)


def file_digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]


def load_gold(path: Path) -> GoldSet:
    records = load_gold_labels(path)
    arts = [article_from_record({"id": r.get("id") or f"gold-{i}", "title": r.get("title") or "", "text": r["text"]},
                                str(path)) for i, r in enumerate(records)]
    return GoldSet(Path(path), arts, [set(r["labels"]) for r in records], [r.get("summary") for r in records])


def rule_scores(articles: Sequence[Article], labels: list[str], taxonomy=None,
                evidence: str = "weighted_vote", votes: Sequence[ArticleVotes] | None = None) -> np.ndarray:
    """Rule evidence (`weak.rule_evidence`) per article, columns in ``labels`` order;
    pass the articles' `votes` when they are already computed."""
    tax = taxonomy or load_taxonomy(None)
    if votes is None:
        model = RuleModel(tax)
        votes = [model.apply(a) for a in articles]
    rows = [rule_evidence(evidence, a, v, tax) for a, v in zip(articles, votes)]
    return np.array([[row.get(k, 0.0) for k in labels] for row in rows])


def rouge_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Character-level ROUGE F1 (rouge-chinese over space-joined characters)."""
    from rouge_chinese import Rouge

    hyps = [" ".join(h.replace(" ", "")) or "。" for h in hypotheses]
    refs = [" ".join(r.replace(" ", "")) for r in references]
    scores = Rouge().get_scores(hyps, refs, avg=True)
    return {k.replace("rouge-", "rouge_"): round(v["f"], 4) for k, v in scores.items()}


def summary_table(gold: GoldSet, model_sentence_scores: list[np.ndarray] | None,
                  budget: SummaryBudget) -> dict[str, dict[str, float]]:
    idx = [i for i, s in enumerate(gold.summaries) if s]
    refs = [gold.summaries[i] for i in idx]
    systems = {
        "lead_n": [summarize(gold.articles[i].sentences, lead_scores(len(gold.articles[i].sentences)), budget)
                   for i in idx],
        "textrank": [summarize(gold.articles[i].sentences, textrank_scores(gold.articles[i].sentences), budget)
                     for i in idx],
    }
    if model_sentence_scores is not None:
        systems["model"] = [summarize(gold.articles[i].sentences, model_sentence_scores[i], budget) for i in idx]
    table = {name: rouge_scores(hyps, refs) for name, hyps in systems.items()}
    for name in table:
        table[name]["n"] = len(idx)
    return table


def format_summary_table(table: dict[str, dict[str, float]], budget: SummaryBudget) -> str:
    names = list(table)
    rows = [f"summaries ({next(iter(table.values()))['n']} references, {budget.min_chars}-{budget.max_chars} chars)",
            f"{'':12}" + "".join(f"{n:>12}" for n in names)]
    for key in ("rouge_1", "rouge_2", "rouge_l"):
        rows.append(f"{key:12}" + "".join(f"{table[n][key]:>12.4f}" for n in names))
    return "\n".join(rows)


def rule_reports(votes: Sequence[ArticleVotes], gold_labels: Sequence[set[str]], taxonomy: Taxonomy,
                 label_model: LabelModel) -> list[TopicReport]:
    """The three rule-based rows, at their production 0.5 decisions: rules each alone, weighted vote, label model."""
    def scored(name: str, probs: Sequence[dict[str, float]]) -> TopicReport:
        return score_topics(name, list(gold_labels), [set(predicted_labels(p)) for p in probs], taxonomy.label_ids)

    return [scored("rules", [each_rule_alone(v, taxonomy) for v in votes]),
            scored("weighted vote", [weighted_vote(v, taxonomy) for v in votes]),
            scored("label model", label_model.predict_proba(list(votes)))]


def evaluate(gold_path: Path, model_dir: Path | None = None, budget: SummaryBudget | None = None) -> tuple[dict, str]:
    """The full report as (JSON-able dict, printable text)."""
    from healthtag.resources import bundled_label_model

    gold = load_gold(gold_path)
    tax = load_taxonomy(None)
    rules = RuleModel(tax)
    votes = [rules.apply(a) for a in gold.articles]
    baselines = rule_reports(votes, gold.labels, tax, LabelModel.load(bundled_label_model(), rules))
    reports = list(baselines)
    notes = []
    sentence_scores = None
    if model_dir is not None:
        from healthtag.models.topic_model import TopicSummaryModel, combine_scores

        model = TopicSummaryModel.load(model_dir)
        budget = budget or SummaryBudget(**model.config.get("summary", {}))
        scores = []
        for first in range(0, len(gold.articles), 16):
            chunk = gold.articles[first:first + 16]
            scores += model.score([(a.title, a.sentences) for a in chunk])
        network = np.stack([s.network for s in scores])
        evidence = rule_scores(gold.articles, model.labels, tax, model.rule_evidence, votes)
        combined = combine_scores(network, evidence, model.combine)
        sentence_scores = [s.sentence for s in scores]
        calibrated_here = model.config.get("calibration", {}).get("gold_digest") == gold.digest
        if calibrated_here:
            notes.append("model rows use 5-fold cross-validated thresholds: this is the calibration file")
            evidence_sets = cross_validated_sets(evidence, gold.labels, model.labels)
            net_sets = cross_validated_sets(network, gold.labels, model.labels)
            model_sets = cross_validated_sets(combined, gold.labels, model.labels)
        else:
            evidence_sets = decide_labels(evidence, model.labels, model.config.get("evidence_thresholds", {}))
            net_sets = decide_labels(network, model.labels, model.config.get("network_thresholds", {}))
            model_sets = decide_labels(combined, model.labels, model.thresholds)
        reports += [score_topics("rule evidence", gold.labels, evidence_sets, tax.label_ids),
                    score_topics("network alone", gold.labels, net_sets, tax.label_ids),
                    score_topics("model", gold.labels, model_sets, tax.label_ids)]
        notes.append(f"model = network combined with the rules' `{model.rule_evidence}` by `{model.combine}`")
        notes.append(f"rule evidence = that `{model.rule_evidence}` alone with calibrated thresholds (no network): "
                     "what the network adds is model minus this row")
        margins = {r.name: round(reports[-1].micro_f1 - r.micro_f1, 4) for r in baselines}
        notes.append("model micro-F1 minus " + ", ".join(f"{k} {v:+.3f}" for k, v in margins.items()))
    budget = budget or SummaryBudget()
    summaries = summary_table(gold, sentence_scores, budget)
    text = "\n".join([f"topics on {gold_path} ({len(gold.articles)} articles)", *notes,
                      format_side_by_side(reports, {lab.id: lab.name for lab in tax.all_labels}), "",
                      format_summary_table(summaries, budget)])
    result = {"gold": str(gold_path), "notes": notes,
              "topics": {r.name: r.to_dict() for r in reports}, "summaries": summaries}
    return result, text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result, text = evaluate(args.gold, args.model)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
