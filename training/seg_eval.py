"""Segmentation evaluation against gold article spans (DESIGN.md, evaluation protocol).

A gold article counts as found when a predicted article overlaps it with
IoU >= 0.8; with that threshold a predicted span can match at most one gold
span, so precision and recall are simple counts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from healthtag.inference.ingest import read_page
from healthtag.inference.segment import segment_page

from .metrics import prf_from_counts

IOU_THRESHOLD = 0.8


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


@dataclass
class SegmentationReport:
    gold_articles: int = 0
    predicted_articles: int = 0
    matched: int = 0
    missed: list[dict] = field(default_factory=list)  # gold articles not found
    spurious: list[dict] = field(default_factory=list)  # predicted articles matching no gold

    def _prf(self) -> tuple[float, float, float]:
        return prf_from_counts(self.matched, self.predicted_articles - self.matched, self.gold_articles - self.matched)

    @property
    def precision(self) -> float:
        return self._prf()[0]

    @property
    def recall(self) -> float:
        return self._prf()[1]

    @property
    def f1(self) -> float:
        return self._prf()[2]

    def to_dict(self) -> dict:
        return {
            "gold_articles": self.gold_articles,
            "predicted_articles": self.predicted_articles,
            "matched": self.matched,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "missed": self.missed,
            "spurious": self.spurious,
        }

    def format(self) -> str:
        lines = [
            f"segmentation (article IoU >= {IOU_THRESHOLD}): "
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  F1 {self.f1:.3f}  "
            f"({self.matched} matched, {self.predicted_articles} predicted, {self.gold_articles} gold)"
        ]
        for m in self.missed:
            lines.append(f"  missed   {m['file']} [{m['start']}:{m['end']}] {m['title']}")
        for s in self.spurious:
            lines.append(f"  spurious {s['file']} [{s['start']}:{s['end']}] {s['title']}")
        return "\n".join(lines)


def load_gold_spans(path: str | Path) -> dict[str, list[dict]]:
    """Gold spans grouped by page file name."""
    by_file: dict[str, list[dict]] = defaultdict(list)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                by_file[rec["file"]].append(rec)
    return by_file


def evaluate_segmentation(gold_path: str | Path, pages_dir: str | Path) -> SegmentationReport:
    report = SegmentationReport()
    for fname, gold in sorted(load_gold_spans(gold_path).items()):
        page = read_page(Path(pages_dir) / fname)
        pred = [a for a in segment_page(page) if a.kind == "article"]
        gold_art = [g for g in gold if g["kind"] == "article"]
        report.gold_articles += len(gold_art)
        report.predicted_articles += len(pred)
        used: set[int] = set()
        for g in gold_art:
            hit = next(
                (i for i, p in enumerate(pred) if i not in used and iou((g["start"], g["end"]), (p.start, p.end)) >= IOU_THRESHOLD),
                None,
            )
            if hit is None:
                report.missed.append({"file": fname, "start": g["start"], "end": g["end"], "title": g.get("title", "")})
            else:
                used.add(hit)
                report.matched += 1
        for i, p in enumerate(pred):
            if i not in used:
                report.spurious.append({"file": fname, "start": p.start, "end": p.end, "title": p.title})
    return report
