"""Tests of training.seg_eval."""
from __future__ import annotations

from healthtag.training.seg_eval import evaluate_segmentation, iou
from support import FIXTURES, SEEDS


def test_seed_pages_against_gold_spans():
    report = evaluate_segmentation(FIXTURES / "gold_seeds.jsonl", SEEDS)
    print(report.format())
    assert report.gold_articles == 24
    assert report.precision >= 0.90 and report.recall >= 0.90


def test_iou():
    assert iou((0, 10), (0, 10)) == 1.0
    assert iou((0, 10), (5, 15)) == 5 / 15
    assert iou((0, 5), (5, 10)) == 0.0
