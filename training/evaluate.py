"""Side-by-side evaluation on a gold file: rules vs label model vs trained model, and summaries.

Topics: the rules each on their own (a label when any of its rules votes for
it and none against), the weighted vote and the label model (fixed 0.5
decisions, as they run in production); then, for a trained model, the rule
evidence it combines with (`evidence.rule_evidence`) under calibrated thresholds,
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
import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
from healthtag.inference.records import OutputError, refuse_input_as_output, write_atomically
from healthtag.inference.summarize import lead_scores, summarize, textrank_scores
from healthtag.models.evidence import each_rule_alone, predicted_labels, weighted_vote
from healthtag.models.model_config import SummaryBudget
from healthtag.models.rules import ArticleVotes, RuleModel
from healthtag.models.scoring import BatchScores, Scorer
from healthtag.models.taxonomy import NON_HEALTH, Taxonomy

from .calibrate import ExtraCalibration, cross_validated_sets, decide_labels, folds, gate_threshold
from .gold import GoldError, GoldSet, file_digest, load_gold  # noqa: F401 - load_gold/file_digest are part of this module's API
from .label_model import LabelModel
from .preflight import MissingInput, require_file
from .topic_eval import TopicReport, format_side_by_side, paired_bootstrap, score_topics

log = logging.getLogger(__name__)


def score_in_batches(scorer: Scorer, articles: Sequence, batch_size: int = 16) -> BatchScores:
    """`Scorer.score` over a long list, batch by batch, as one `BatchScores`."""
    parts = [scorer.score(articles[i:i + batch_size]) for i in range(0, len(articles), batch_size)]
    if not parts:
        return scorer.score([])
    def cat(name: str):
        values = [getattr(p, name) for p in parts]
        return None if values[0] is None else np.concatenate(values)
    sentence = None if parts[0].sentence is None else [s for p in parts for s in p.sentence]
    return BatchScores(parts[0].labels, [v for p in parts for v in p.votes], cat("rules"), cat("evidence"),
                       cat("network"), cat("combined"), sentence)


def _scored(scorer: Scorer, articles: Sequence, known: BatchScores | None, path: Path | None) -> BatchScores:
    """`score_in_batches`, or, given the network's outputs for exactly these articles, a rescoring around them.

    The rule votes are reused too: they depend on the taxonomy alone, which `recalibrate` may not change."""
    if known is None or known.network is None:
        return score_in_batches(scorer, articles)
    if len(known.votes) != len(articles) or list(known.labels) != list(scorer.labels):
        raise ValueError(f"{path}: the network scores passed in are for {len(known.votes)} articles and labels "
                         f"{known.labels[:3]}…, not for this file's {len(articles)} articles")
    return scorer.score(articles, network=known.network, sentence=known.sentence, votes=known.votes)


def _spaced(text: str, empty: str = "") -> str:
    """A text as rouge-chinese reads it: one token per character (an empty text as ``empty``)."""
    return " ".join(text.replace(" ", "")) or empty


def rouge_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Character-level ROUGE F1 (rouge-chinese over space-joined characters)."""
    from rouge_chinese import Rouge

    scores = Rouge().get_scores([_spaced(h, "。") for h in hypotheses], [_spaced(r) for r in references], avg=True)
    return {k.replace("rouge-", "rouge_"): round(v["f"], 4) for k, v in scores.items()}


def rouge_l_per_article(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """Character-level ROUGE-L F1 of each pair (what `rouge_scores` averages), for paired comparisons."""
    from rouge_chinese import Rouge

    scores = Rouge().get_scores([_spaced(h, "。") for h in hypotheses], [_spaced(r) for r in references])
    return [round(s["rouge-l"]["f"], 4) for s in scores]


def summary_table(gold: GoldSet, model_sentence_scores: list[np.ndarray] | None,
                  budget: SummaryBudget) -> dict[str, dict]:
    idx = [i for i, s in enumerate(gold.summaries) if s]
    refs = [gold.summaries[i] for i in idx]
    if not idx:
        return {}
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
    if "model" in table:   # per reference, in gold order: lets two models be compared pairwise
        table["model"]["rouge_l_each"] = rouge_l_per_article(systems["model"], refs)
    return table


def format_summary_table(table: dict[str, dict[str, float]], budget: SummaryBudget) -> str:
    if not table:
        return "summaries: the gold file has no reference abstracts"
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


def evaluate_rules(gold: GoldSet, taxonomy: Taxonomy, label_model: LabelModel | None = None,
                   unlabeled: Sequence = (), described_as: str = "the given label model") -> tuple[dict, str]:
    """The rule rows alone. The label model is the given one, else fitted on the gold texts
    (their labels unused) plus ``unlabeled`` articles."""
    rules = RuleModel(taxonomy)
    votes = [rules.apply(a) for a in gold.articles]
    if label_model is not None:
        fitted_on = described_as
    else:
        label_model = LabelModel(rules).fit(votes + [rules.apply(a) for a in unlabeled])
        fitted_on = f"fitted on the {len(votes)} gold texts (labels unused) + {len(unlabeled)} unlabeled articles"
    alone, wv, lmr = rule_reports(votes, gold.labels, taxonomy, label_model)
    better = "label model" if lmr.micro_f1 > wv.micro_f1 else "weighted vote"
    text = "\n".join([
        f"topics on {gold.path} ({len(gold.articles)} articles); label model: {fitted_on}",
        format_side_by_side([alone, wv, lmr], {lab.id: lab.name for lab in taxonomy.all_labels}),
        f"better on micro-F1: {better} ({max(lmr.micro_f1, wv.micro_f1):.3f} vs {min(lmr.micro_f1, wv.micro_f1):.3f})"])
    result = {"topics": {"rules": alone.to_dict(), "weighted_vote": wv.to_dict(), "label_model": lmr.to_dict(),
                         "better": better, "label_model_fitted_on": fitted_on}}
    return result, text


def evaluate_rules_on_file(gold_path: Path, taxonomy: Taxonomy, label_model_path: Path | None = None,
                           unlabeled_paths: Sequence[str] = (), default_taxonomy: bool = True,
                           pages_dir: Path | None = None) -> tuple[dict, str]:
    """`healthtag evaluate --rules-only`: which label model to use, then the rule rows.

    A given label model wins; with the default rules and no extra text, the
    shipped label model (fitted on the weak-label pool, no gold) is used;
    otherwise one is fitted on the gold texts plus ``unlabeled_paths``.
    """
    from healthtag.inference.ingest import iter_inputs
    from healthtag.inference.segment import iter_spans

    from healthtag.resources import bundled_label_model

    gold = load_gold(gold_path, pages_dir)
    rules = RuleModel(taxonomy)
    if label_model_path is not None:
        return evaluate_rules(gold, taxonomy, LabelModel.load(label_model_path, rules), described_as=str(label_model_path))
    if default_taxonomy and not unlabeled_paths:
        try:
            lm = LabelModel.load(bundled_label_model(), rules)
        except (OSError, ValueError) as exc:
            log.warning("shipped label model not usable (%s); fitting on the gold texts", exc)
        else:
            return evaluate_rules(gold, taxonomy, lm,
                                  described_as="the shipped label model (seeds + corpus + inews train/dev, no gold)")
    extra = [a for a, _ in iter_spans(iter_inputs(list(unlabeled_paths))) if a is not None and a.kind == "article"]
    return evaluate_rules(gold, taxonomy, None, extra)


def model_rows(config) -> dict[str, tuple[str, dict[str, float]]]:
    """The trained model's rows of every table: row name -> (`BatchScores` field, thresholds deciding it)."""
    return {"rule evidence": ("evidence", config.evidence_thresholds),
            "network alone": ("network", config.network_thresholds),
            "model": ("combined", config.thresholds)}


def gate_verdicts(gate: GoldSet, dev: GoldSet | None, dev_scores: BatchScores | None, gate_scores: BatchScores,
                  taxonomy: Taxonomy, label_model: LabelModel, config=None,
                  fitted_on: tuple[BatchScores, BatchScores] | None = None) -> dict[str, list[bool]]:
    """Per row of the table, whether it calls each gate-set article general news.

    Rule rows decide at 0.5, as they run. Model rows use the model's thresholds;
    when the model's non_health threshold was calibrated on this very gate set,
    each gate fold is decided by a threshold fitted on dev plus the other gate
    folds, so the figure stays out of fold. ``fitted_on`` (dev scores, gate scores)
    are the scores those thresholds are fitted on where they are not the ones decided
    (the fast path is decided with thresholds fitted on the full path's scores). Only that case
    reads ``dev`` and ``dev_scores``; any other labelled general-news file needs neither.
    """
    out = {"rules": [NON_HEALTH in predicted_labels(each_rule_alone(v, taxonomy)) for v in gate_scores.votes],
           "weighted vote": [NON_HEALTH in predicted_labels(weighted_vote(v, taxonomy)) for v in gate_scores.votes],
           "label model": [NON_HEALTH in predicted_labels(p) for p in label_model.predict_proba(list(gate_scores.votes))]}
    if config is None or gate_scores.network is None:
        return out
    j = config.labels.index(NON_HEALTH)
    on_gate = config.calibration.get("gate_digest") == gate.digest
    if on_gate and (dev is None or dev_scores is None):
        raise ValueError(f"{gate.path}: the model's gate threshold was fitted on this file, so its verdicts are "
                         "decided out of fold, which needs dev and dev's scores")
    rows = model_rows(config)
    fit_dev, fit_gate = fitted_on or (dev_scores, gate_scores)
    for name, (which, thresholds) in rows.items():
        g = getattr(gate_scores, which)[:, j]
        if on_gate:
            d = getattr(fit_dev, which)
            flags = [False] * len(gate.articles)
            for held in folds(len(gate.articles), 5, 0):
                held_set = set(held)
                rest = [i for i in range(len(gate.articles)) if i not in held_set]
                t = gate_threshold(d, dev.labels, getattr(fit_gate, which)[rest],
                                   [gate.labels[i] for i in rest], config.labels)
                for i in held:
                    flags[i] = bool(g[i] >= t)
        else:
            t = thresholds.get(NON_HEALTH, 0.5)
            flags = [bool(x >= t) for x in g]
        out[name] = flags
    return out


def gate_accuracies(gate: GoldSet, verdicts: dict[str, list[bool]]) -> dict[str, float]:
    """``non_health`` accuracy on a general-news gate set for every row of the table."""
    return {name: round(float(np.mean([f == (NON_HEALTH in g) for f, g in zip(flags, gate.labels)])), 4)
            for name, flags in verdicts.items()}


def gate_by_class(gate: GoldSet, verdicts: dict[str, list[bool]]) -> dict[str, dict[str, int]]:
    """Per row, health stories kept and general news excluded, each out of its class.

    A gate set is mostly general news (the shipped one 185 of 200), so its accuracy says
    little about the health stories in general news, which another mix weighs far more.
    """
    health = [NON_HEALTH not in g for g in gate.labels]
    out = {}
    for name, flags in verdicts.items():
        out[name] = {"health_kept": sum(h and not f for h, f in zip(health, flags)), "health": sum(health),
                     "general_excluded": sum(f and not h for h, f in zip(health, flags)),
                     "general": len(health) - sum(health)}
    return out


def _full_path_scores(model_dir: Path, tax: Taxonomy, gold: GoldSet, gate: GoldSet | None,
                      extra: Sequence[GoldSet] = ()) -> dict:
    """The full path's scores of the gold (gate, extra calibration) articles: what a fast path's thresholds are fitted on."""
    from healthtag.models.topic_model import TopicSummaryModel

    full = TopicSummaryModel.load(model_dir, runtime="full")
    scorer = Scorer(tax, full.config.labels, full.config.combination, network=full)
    return {"gold": score_in_batches(scorer, gold.articles),
            "gate": score_in_batches(scorer, gate.articles) if gate is not None else None,
            "extra": [score_in_batches(scorer, more.articles) for more in extra]}


def extra_calibration_sets(calibration: dict, notes: list[str]) -> list[GoldSet]:
    """The extra gold files a model's topic thresholds were also fitted on (`data.calibration_extra`),
    where they are still at the recorded path with the recorded content; a note for each that is not,
    since out-of-fold thresholds on dev are then fitted without it."""
    found = []
    for entry in calibration.get("extra", []):
        path = Path(entry.get("path", entry["file"]))
        more = load_gold(path) if path.is_file() else None
        if more is None or more.digest != entry["digest"]:
            notes.append(f"{entry['file']}, which the shipped topic thresholds were also fitted on, is "
                         f"{'changed' if more is not None else 'not'} at {path}: out-of-fold thresholds here are fitted "
                         "without it")
            continue
        found.append(more)
    return found


def evaluate(gold_path: Path, model_dir: Path | None = None, budget: SummaryBudget | None = None,
             pages_dir: Path | None = None, gate_path: Path | None = None, runtime: str = "auto",
             precision: str | None = None, scores_out: dict | None = None,
             reference_scores: dict | None = None, network_scores: dict | None = None) -> tuple[dict, str]:
    """The full report as (JSON-able dict, printable text); ``gate_path`` adds the general-news gate set.

    ``runtime`` and ``precision`` choose the model's encoder path (see `TopicSummaryModel.load`), so
    the fast path and the full one are evaluated by the same command. ``scores_out``, when given, is
    filled with this path's scores (``"gold"``, ``"gate"``: `BatchScores`, the gate None without a
    gate set); a fast-path evaluation that needs the full path's scores to fit thresholds on takes
    them from ``reference_scores`` (the same shape) instead of loading and running the full encoder
    again, which is how `fast_check` evaluates both paths with one pass each. ``network_scores`` (the
    same shape) are this model's network outputs already computed for these files: only the rules
    and their combination are scored again. `recalibrate` passes them, since new thresholds or a new
    rule weighting do not change what the network says.
    """
    from healthtag.models.taxonomy import model_taxonomy
    from healthtag.resources import model_label_model

    gold = load_gold(gold_path, pages_dir)
    gate = load_gold(gate_path) if gate_path is not None else None
    tax = model_taxonomy(model_dir)
    notes = []
    sentence_scores = None
    margin_interval = None
    label_model = LabelModel.load(model_label_model(model_dir), RuleModel(tax))
    cfg = None
    needs_reference = False   # a fast path evaluated on a file its (full-path) thresholds were fitted on
    if model_dir is None:
        scorer = Scorer(tax)
    else:
        from healthtag.models.topic_model import TopicSummaryModel

        model = TopicSummaryModel.load(model_dir, runtime=runtime, precision=precision)
        cfg = model.config
        notes.append(f"runtime: {model.runtime_note}")
        budget = budget or cfg.summary
        scorer = Scorer(tax, cfg.labels, cfg.combination, network=model)
        fitted_here = {cfg.calibration.get("gold_digest"), cfg.calibration.get("gate_digest")} - {None}
        checked = {gold.digest, *([gate.digest] if gate is not None else [])}
        needs_reference = model.runtime != "full" and bool(fitted_here & checked)
        if needs_reference:
            notes.append("out-of-fold thresholds are fitted on the full path's scores of the other folds and decide "
                         "this path's scores: the shipped thresholds are the full path's, so this is what ships")
    scores = _scored(scorer, gold.articles, (network_scores or {}).get("gold"), gold_path)
    gate_scores = _scored(scorer, gate.articles, (network_scores or {}).get("gate"), gate_path) if gate is not None else None
    calibrated_here = cfg is not None and cfg.calibration.get("gold_digest") == gold.digest
    extra = extra_calibration_sets(cfg.calibration, notes) if calibrated_here else []
    known_extra = (network_scores or {}).get("extra") or [None] * len(extra)
    extra_scores = [_scored(scorer, more.articles, known, more.path) for more, known in zip(extra, known_extra)]
    if scores_out is not None:
        scores_out.update(gold=scores, gate=gate_scores, extra=extra_scores, extra_gold=extra)
    fit_on = {"gold": scores, "gate": gate_scores, "extra": extra_scores}
    if needs_reference:
        fit_on = reference_scores or _full_path_scores(model_dir, tax, gold, gate, extra)
    reports = rule_reports(scores.votes, gold.labels, tax, label_model)
    if cfg is not None:
        baselines = list(reports)
        sentence_scores = scores.sentence
        rows = model_rows(cfg)
        if gold.digest in {e.get("digest") for e in cfg.calibration.get("extra", [])}:
            notes.append("IN-SAMPLE for the topics: this file is one the shipped topic thresholds were also fitted on "
                         "(data.calibration_extra); its out-of-fold figures: python -m healthtag.training.crossfit")
        if gold.digest in {r.get("digest") for r in cfg.training.get("reviewed_labels", [])}:
            notes.append("IN-SAMPLE: this model was trained on these labels (reviewed labels); the network and model "
                         "rows are not held out. Out-of-fold figures: python -m healthtag.training.crossfit")
        if calibrated_here:
            notes.append("model rows use 5-fold cross-validated thresholds: this is the calibration file"
                         + (f"; every fold's topic thresholds are also fitted on {', '.join(m.path.name for m in extra)}"
                            " (never held out)" if extra else ""))
        for name, (which, thresholds) in rows.items():
            matrix = getattr(scores, which)
            always = ExtraCalibration.joined([getattr(sc, which) for sc in fit_on.get("extra", [])],
                                             [more.labels for more in extra])
            sets = (cross_validated_sets(matrix, gold.labels, cfg.labels, fit_probs=getattr(fit_on["gold"], which),
                                         extra=always)
                    if calibrated_here else decide_labels(matrix, cfg.labels, thresholds))
            reports.append(score_topics(name, gold.labels, sets, tax.label_ids))
        evidence_kind, combine = cfg.combination.rule_evidence, cfg.combination.combine
        weighting = cfg.combination.weighting_note()
        notes.append(f"model = network combined with the rules' `{evidence_kind}` by `{combine}`"
                     + (f", {weighting}" if weighting else ""))
        notes.append(f"rule evidence = that `{evidence_kind}` alone with calibrated thresholds (no network): "
                     "what the network adds is model minus this row")
        margins = {r.name: round(reports[-1].micro_f1 - r.micro_f1, 4) for r in baselines}
        notes.append("model micro-F1 minus " + ", ".join(f"{k} {v:+.3f}" for k, v in margins.items()))
        margin_interval = paired_bootstrap(baselines[0], reports[-1])
        notes.append(f"model minus {baselines[0].name}, 95 % paired bootstrap over these {len(gold.articles)} articles: "
                     f"micro-F1 [{margin_interval['micro_f1'][0]:+.3f}, {margin_interval['micro_f1'][1]:+.3f}], "
                     f"macro-F1 [{margin_interval['macro_f1'][0]:+.3f}, {margin_interval['macro_f1'][1]:+.3f}] "
                     "(how far another draw of articles from the same sources could move the margin)")
    budget = budget or SummaryBudget()
    summaries = summary_table(gold, sentence_scores, budget)
    gate_lines, gate_result = [], None
    if gate is not None:
        verdicts = gate_verdicts(gate, gold, scores if cfg is not None else None, gate_scores, tax,
                                 label_model, cfg, (fit_on["gold"], fit_on["gate"]))
        gate_result, by_class = gate_accuracies(gate, verdicts), gate_by_class(gate, verdicts)
        gate_lines = ["", f"non_health accuracy on the gate set {gate_path} ({len(gate.articles)} articles): "
                      + ", ".join(f"{k} {v:.3f}" for k, v in gate_result.items()),
                      "  by class, health stories kept / general news excluded: "
                      + ", ".join(f"{k} {c['health_kept']}/{c['health']}, {c['general_excluded']}/{c['general']}"
                                  for k, c in by_class.items())]
    text = "\n".join([f"topics on {gold_path} ({len(gold.articles)} articles)", *notes,
                      format_side_by_side(reports, {lab.id: lab.name for lab in tax.all_labels}), *gate_lines, "",
                      format_summary_table(summaries, budget)])
    result = {"gold": str(gold_path), "notes": notes,
              "topics": {r.name: r.to_dict() for r in reports}, "summaries": summaries}
    if margin_interval is not None:
        result["margin_bootstrap"] = {"baseline": baselines[0].name, **margin_interval}
    if gate_result is not None:
        result["gate"] = {"file": str(gate_path), "non_health_accuracy": gate_result, "by_class": by_class}
    return result, text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--pages", type=Path, default=None, help="pages folder for page gold (default: the seeds)")
    parser.add_argument("--gate", type=Path, default=None, help="general-news gate set (gold format)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--runtime", default="auto", choices=("auto", "full", "fast"))
    args = parser.parse_args(argv)
    require_file(args.gold, "gold file (--gold)")
    if args.gate is not None:
        require_file(args.gate, "gate set (--gate)")
    if args.json is not None:
        try:
            refuse_input_as_output(args.json, [str(p) for p in (args.gold, args.gate) if p], ())
        except OutputError as exc:
            raise MissingInput(f"--json {exc}") from exc
    try:
        result, text = evaluate(args.gold, args.model, pages_dir=args.pages, gate_path=args.gate, runtime=args.runtime)
    except GoldError as exc:
        raise MissingInput(str(exc)) from exc
    print(text)
    if args.json:
        write_atomically(args.json, json.dumps(result, ensure_ascii=False, indent=2).encode("utf-8"))


if __name__ == "__main__":
    main()
