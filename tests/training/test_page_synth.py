"""Tests of training.page_synth: pages with exact spans, and the segmenter measured on them."""
from __future__ import annotations

import json

import pytest
from healthtag.inference.ingest import read_page
from healthtag.inference.segment import segment_page
from healthtag.training.page_synth import LAYOUTS, display_width, make_page_set, wrap
from healthtag.training.seg_eval import evaluate_segmentation
from support import FIXTURES, assert_spans_partition

ARTICLES = FIXTURES / "page_articles.jsonl"


@pytest.fixture(scope="module")
def page_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages")
    return out, make_page_set(ARTICLES, out, pages=2 * len(LAYOUTS), seed=7)


def test_gold_spans_point_at_what_was_laid_out(page_set):
    out, gold_path = page_set
    gold = [json.loads(line) for line in gold_path.open(encoding="utf-8")]
    assert {g["convention"].split(":")[0] for g in gold} >= {"news", "photo", "notice", "brief", "column"}
    for g in gold:
        text = (out / g["file"]).read_text(encoding="utf-8")[g["start"]:g["end"]]
        assert text == text.strip() and text
        if g["kind"] == "article" and not g["convention"].startswith("brief:【】"):
            assert g["title"].split(" ")[0].rstrip("！？") in text


def test_wrap_keeps_closing_marks_off_the_line_start():
    lines = wrap("县医院专家团队来到卫生院，为群众义诊。" * 3, 12)
    assert "".join(lines) == "县医院专家团队来到卫生院，为群众义诊。" * 3
    assert all(not line.startswith(("，", "。")) for line in lines)
    assert max(display_width(line) for line in lines) <= 14


def test_segmenter_on_synthetic_pages(page_set):
    """Every layout: spans partition the page, and articles are found (P and R >= 0.95)."""
    out, gold_path = page_set
    for page_file in sorted(out.glob("*.txt")):
        page = read_page(page_file)
        assert_spans_partition(page, segment_page(page))
    report = evaluate_segmentation(gold_path, out)
    assert report.gold_articles > 40
    assert report.precision >= 0.95 and report.recall >= 0.95, report.format()
