"""Paired differences, candidate − baseline, between two `crossfit --json` files of the same fold seeds.

Why: adoption rules compare a candidate with the baseline per fold seed (both runs use the same
splits), and the spread of that difference, not of either run, is what a change must exceed.

    python scripts/crossfit_paired.py BASELINE.json CANDIDATE.json [--row "model (max_mean_gate)"]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

METRICS = ("micro_f1", "macro_f1", "non_health_accuracy", "gate_accuracy")


def paired(baseline: dict, candidate: dict, row: str) -> dict[str, tuple[float, float, float, float]]:
    """metric → (baseline mean, candidate mean, mean difference, sd of the difference)."""
    a, b = baseline[row]["per_seed"], candidate[row]["per_seed"]
    if len(a) != len(b):
        raise SystemExit(f"{row}: {len(a)} seeds against {len(b)}: not the same fold seeds")
    out = {}
    for metric in METRICS:
        if metric in a[0] and metric in b[0]:
            x = np.array([s[metric] for s in a]); y = np.array([s[metric] for s in b])
            d = y - x
            out[metric] = (float(x.mean()), float(y.mean()), float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path)
    parser.add_argument("candidate", type=Path)
    parser.add_argument("--row", action="append", default=None, help="crossfit row (default: the model and the network)")
    parser.add_argument("--labelled", default="0", help="which --labelled entry of the JSON (default 0)")
    args = parser.parse_args(argv)
    base = json.loads(args.baseline.read_text(encoding="utf-8"))[args.labelled]
    cand = json.loads(args.candidate.read_text(encoding="utf-8"))[args.labelled]
    for row in args.row or ["model (max_mean_gate)", "network alone"]:
        for metric, (x, y, d, sd) in paired(base, cand, row).items():
            print(f"{row:28s} {metric:20s} {x:.4f} → {y:.4f}  paired {d:+.4f} ± {sd:.4f}")


if __name__ == "__main__":
    main()
