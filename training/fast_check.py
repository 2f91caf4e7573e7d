"""How closely a model's fast path reproduces its full path, recorded in the model directory.

Two kinds of evidence, side by side:

- **agreement** on the pool articles the distillation kept out (unlabeled, so
  thousands of decisions rather than a gold file's few hundred): the share of
  articles whose health flag, topic set and abstract are identical on both
  paths, how far the final scores move, and ROUGE-L of the fast abstract
  against the full one;
- **gold figures**: `healthtag evaluate` on the calibration file (dev, with
  cross-validated thresholds) and the gate set, once per path, with the
  differences the quality bar is stated in (micro-F1, macro-F1, non_health
  accuracy, ROUGE-L).

Each run is recorded under ``fast.validation["fast/<precision>"]`` in
``config.json`` with the CPU it ran on (``"fast/<precision> on <flags>"`` when that key already holds a
run from a CPU with other vector flags: see `record_key`). ``--precision`` sets the fast path's
arithmetic (``fp32`` or ``int8``: what a CPU without native bf16 computes,
measured on any CPU); the full path, the reference, runs in its own.

    python -m healthtag.training.fast_check --config configs/default.yaml [--precision fp32|int8]
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from healthtag.inference.predictor import Prediction, Predictor
from healthtag.models.cpu_info import cpu_info
from healthtag.models.model_config import read_model_config, write_model_config
from healthtag.models.taxonomy import NON_HEALTH
from healthtag.text.article import Article

from .calibrate import ExtraCalibration
from .gold import load_gold
from .model_card import refresh_model_card

log = logging.getLogger(__name__)

GOLD_KEYS = (("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"), ("non_health_dev", "non_health (dev)"),
             ("non_health_gate", "non_health (gate set)"), ("rouge_l", "ROUGE-L"))


def agreement(full: Sequence[Prediction], fast: Sequence[Prediction], full_scores: np.ndarray,
              fast_scores: np.ndarray) -> dict:
    """How often the two paths decide the same, over the same articles in the same order."""
    from .evaluate import rouge_scores

    pairs = [(a, b) for a, b in zip(full, fast) if a.error is None and b.error is None]
    same_health = np.mean([a.health == b.health for a, b in pairs])
    same_topics = np.mean([{t.id for t in a.labels} == {t.id for t in b.labels} for a, b in pairs])
    jaccard = np.mean([len(x & y) / len(x | y) if x | y else 1.0
                       for x, y in (({t.id for t in a.labels}, {t.id for t in b.labels}) for a, b in pairs)])
    both = [(a.summary, b.summary) for a, b in pairs if a.summary and b.summary]
    diff = np.abs(full_scores - fast_scores)
    return {
        "articles": len(pairs),
        "same_health": round(float(same_health), 4),
        "same_topics": round(float(same_topics), 4),
        "topic_jaccard": round(float(jaccard), 4),
        "same_summary": round(float(np.mean([x == y for x, y in both])) if both else 1.0, 4),
        "summary_rouge_l_vs_full": rouge_scores([y for _, y in both], [x for x, _ in both])["rouge_l"] if both else 1.0,
        "score_diff_mean": round(float(diff.mean()), 4),
        "score_diff_p99": round(float(np.quantile(diff, 0.99)), 4),
    }


def scored(predictor: Predictor, articles: Sequence[Article], batch: int = 16) -> tuple[list[Prediction], np.ndarray]:
    """Predictions and the final score matrix (config label order) of ``articles``, one encoder pass."""
    preds, matrices = [], []
    for first in range(0, len(articles), batch):
        p, scores = predictor.predict_with_scores(list(articles[first:first + batch]))
        preds += p
        matrices.append(scores.combined)
    return preds, np.concatenate(matrices)


def gold_figures(model_dir: Path, gold: Path, gate: Path | None, runtime: str, precision: str | None,
                 scores_out: dict | None = None, reference_scores: dict | None = None) -> dict:
    """The figures of `healthtag evaluate` that the fast path must keep, for one path.

    ``scores_out`` and ``reference_scores`` pass through to `evaluate`, so that the full path's
    scores, computed once, serve as the fast path's threshold-fitting reference and both paths'
    scores serve `repeated_gap`.
    """
    from .evaluate import evaluate

    result, _ = evaluate(gold, model_dir, gate_path=gate, runtime=runtime, precision=precision,
                         scores_out=scores_out, reference_scores=reference_scores)
    model = result["topics"]["model"]
    out = {"micro_f1": model["micro_f1"], "macro_f1": model["macro_f1"],
           "non_health_dev": model["non_health_accuracy"],
           "rouge_l": result["summaries"].get("model", {}).get("rouge_l"),
           "rouge_l_each": result["summaries"].get("model", {}).get("rouge_l_each", [])}
    if "gate" in result:
        out["non_health_gate"] = result["gate"]["non_health_accuracy"]["model"]
    return out


def rouge_gap(full: Sequence[float], fast: Sequence[float], draws: int = 10000) -> dict:
    """Fast minus full ROUGE-L over the same references, with a paired bootstrap 95 % interval.

    The two paths' abstracts differ on a third of the articles, so the mean gap alone
    does not say whether it is beyond the noise of a hundred references.
    """
    diff = np.asarray(fast, dtype=float) - np.asarray(full, dtype=float)
    if not len(diff):
        return {"n": 0, "diff": None, "ci95": None}
    rng = np.random.default_rng(0)
    boot = np.array([diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(draws)])
    return {"n": int(len(diff)), "diff": round(float(diff.mean()), 4),
            "ci95": [round(float(np.percentile(boot, 2.5)), 4), round(float(np.percentile(boot, 97.5)), 4)]}


def repeated_gap(full: np.ndarray, fast: np.ndarray, gold_labels: list[set[str]], labels: list[str],
                 label_ids: list[str], seeds: int = 10, extra=None) -> dict:
    """Micro- and macro-F1 of each path's final scores (``full``, ``fast``: dev articles x ``labels``)
    over ``seeds`` fold seeds, and the paired fast - full difference: one seed's folds move dev F1
    by about 0.01, the size of the bar itself, so a single `evaluate` per path cannot say whether the
    gap is within it. In every fold both paths are decided by thresholds fitted on the full path's
    scores of the other folds, as the shipped fast path is decided by the thresholds calibrated on
    the full path. ``extra`` (`calibrate.ExtraCalibration`, the full path's scores) joins every
    fold's topic fit, as it joins the shipped one.
    """
    from .topic_eval import repeated_cv_f1

    out: dict = {"seeds": seeds, "thresholds_fitted_on": "full"}
    per_seed = {}
    for runtime, matrix in (("full", full), ("fast", fast)):
        micro, macro = repeated_cv_f1(matrix, gold_labels, labels, label_ids, seeds=seeds, fit_probs=full, extra=extra)
        per_seed[runtime] = (micro, macro)
        out[runtime] = {"micro_f1": _mean_sd(micro), "macro_f1": _mean_sd(macro)}
    for i, key in enumerate(("micro_f1", "macro_f1")):
        diff = per_seed["fast"][i] - per_seed["full"][i]
        out[f"gap_{key}"] = {**_mean_sd(diff), "seeds_within_0.01": int((diff >= -0.01).sum())}
    return out


def _mean_sd(values: np.ndarray) -> dict:
    return {"mean": round(float(np.mean(values)), 4), "sd": round(float(np.std(values)), 4)}


def run_check(config, model_dir: Path | None = None, precision: str | None = None) -> dict:
    from .build_weak_dataset import pool_articles

    model_dir = Path(model_dir or config.out)
    cfg = read_model_config(model_dir)
    if cfg.fast is None:
        raise SystemExit(f"{model_dir}: no fast path to check (python -m healthtag.training.distill first)")
    wanted = set(cfg.fast.recipe.get("check_articles", []))
    articles = [a for a in pool_articles(config) if a.id in wanted]
    if len(articles) < len(wanted):
        log.warning("%d of the %d check articles are not in this pool (other corpora?)", len(wanted) - len(articles),
                    len(wanted))
    started = time.perf_counter()
    runs = {}
    for runtime in ("full", "fast"):
        predictor = Predictor.load(model_dir, runtime=runtime, precision=precision if runtime == "fast" else None)
        runs[runtime] = (predictor.model.runtime_path, *scored(predictor, articles))
    record = {
        "cpu": cpu_info().describe(),
        "paths": {k: v[0] for k, v in runs.items()},
        "date": time.strftime("%Y-%m-%d"),
        "agreement": agreement(runs["full"][1], runs["fast"][1], runs["full"][2], runs["fast"][2]),
    }
    gold = Path(config.data.calibration_gold)
    gate = Path(config.data.gate_gold) if config.data.gate_gold else None
    if gold.is_file():
        gate = gate if gate and gate.is_file() else None
        scores: dict[str, dict] = {"full": {}, "fast": {}}
        record["gold"] = {"full": gold_figures(model_dir, gold, gate, "full", None, scores_out=scores["full"])}
        record["gold"]["fast"] = gold_figures(model_dir, gold, gate, "fast", precision, scores_out=scores["fast"],
                                              reference_scores=scores["full"])
        each = {rt: record["gold"][rt].pop("rouge_l_each") for rt in ("full", "fast")}
        record["gold"]["rouge_l_gap"] = rouge_gap(each["full"], each["fast"])
        topics = [label for label in cfg.labels if label != NON_HEALTH]   # the model's own topics
        extra = ExtraCalibration.joined([sc.combined for sc in scores["full"]["extra"]],
                                        [more.labels for more in scores["full"]["extra_gold"]])
        record["gold"]["repeated_cv"] = repeated_gap(scores["full"]["gold"].combined, scores["fast"]["gold"].combined,
                                                     load_gold(gold).labels, cfg.labels, topics,
                                                     extra=extra)
        record["gold"]["file"] = str(gold)
        record["gold"]["gate_file"] = str(gate) if gate else None
    else:
        log.warning("%s: not found, so no gold figures (agreement only)", gold)
    record["minutes"] = round((time.perf_counter() - started) / 60, 1)
    cfg = read_model_config(model_dir)
    key = record_key(cfg.fast.validation, f"fast/{precision or cfg.fast.encoder.precision}", record["cpu"])
    cfg.fast.validation[key] = record
    write_model_config(model_dir, cfg)
    refresh_model_card(model_dir)
    return record


def _vector_flags(cpu: str) -> str:
    return cpu.rsplit("flags: ", 1)[-1]


def record_key(records: dict, key: str, cpu: str) -> str:
    """``key`` (``fast/fp32``...), unless it holds a run made on a CPU with other vector flags: then
    ``key on <flags>``. The same arithmetic runs other kernels on another ISA (fp32 on a real AVX2-only
    Zen 3 moved a few of dev's decisions against an AVX-512 Zen 4), so one CPU's record must not erase
    another's; the first CPU's record keeps the plain key the runtime line reads."""
    earlier = records.get(key)
    if earlier is None or _vector_flags(str(earlier.get("cpu", ""))) == _vector_flags(cpu):
        return key
    return f"{key} on {_vector_flags(cpu)}"


def format_record(record: dict) -> str:
    a = record["agreement"]
    lines = [f"CPU: {record['cpu']}", *(f"{k}: {v}" for k, v in record["paths"].items()),
             f"agreement on {a['articles']} held-out pool articles: health {a['same_health']:.3f}, "
             f"topic sets {a['same_topics']:.3f} (Jaccard {a['topic_jaccard']:.3f}), abstracts {a['same_summary']:.3f} "
             f"(ROUGE-L vs full {a['summary_rouge_l_vs_full']:.3f}), score |diff| mean {a['score_diff_mean']:.4f}, "
             f"p99 {a['score_diff_p99']:.4f}"]
    gold = record.get("gold")
    if gold:
        lines.append(f"gold ({gold['file']}, gate {gold['gate_file']}):   full     fast   fast-full")
        for key, name in GOLD_KEYS:
            full, fast = gold["full"].get(key), gold["fast"].get(key)
            if full is not None and fast is not None:
                lines.append(f"  {name:24}{full:>8.3f} {fast:>8.3f} {fast - full:>+9.3f}")
        gap = gold.get("rouge_l_gap")
        if gap and gap["n"]:
            lines.append(f"  ROUGE-L fast - full over {gap['n']} abstracts: {gap['diff']:+.4f}, paired bootstrap 95% "
                         f"interval [{gap['ci95'][0]:+.4f}, {gap['ci95'][1]:+.4f}]")
        rep = gold.get("repeated_cv")
        if rep:
            lines.append(f"  over {rep['seeds']} fold seeds (mean ± sd):  full / fast / paired fast - full")
            for key, name in (("micro_f1", "micro-F1"), ("macro_f1", "macro-F1")):
                gap_ = rep[f"gap_{key}"]
                lines.append(f"    {name:10} {rep['full'][key]['mean']:.3f} ± {rep['full'][key]['sd']:.3f} / "
                             f"{rep['fast'][key]['mean']:.3f} ± {rep['fast'][key]['sd']:.3f} / "
                             f"{gap_['mean']:+.3f} ± {gap_['sd']:.3f} ({gap_['seeds_within_0.01']} of "
                             f"{rep['seeds']} seeds within 0.01)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from .config import load_train_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="training config (pool, gold files)")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the config's out)")
    parser.add_argument("--precision", choices=("bf16", "fp32", "int8"), default=None,
                        help="the fast path's arithmetic (fp32 or int8: what CPUs without bf16 compute)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(format_record(run_check(load_train_config(args.config), args.model, args.precision)))


if __name__ == "__main__":
    main()
