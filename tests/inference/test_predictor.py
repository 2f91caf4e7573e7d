"""Tests of inference.predictor."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import ARTICLE, SEEDS

from healthtag import Predictor


@pytest.fixture(scope="module")
def predictor(tiny_model_dir) -> Predictor:
    return Predictor.load(tiny_model_dir, batch_size=4)


@pytest.fixture(scope="module")
def rules() -> Predictor:
    return Predictor.load(rules_only=True)


def test_predict_contract(predictor, rules):
    for p in (predictor, rules):
        rec = p.predict(ARTICLE, title="义诊进乡村").to_dict()
        assert set(rec) >= {"id", "source", "title", "health", "labels", "summary", "rule_hits", "error",
                            "keyphrases", "disagreement"}
        assert rec["error"] is None and isinstance(rec["health"], bool)
        if rec["health"]:
            assert rec["summary"] and rec["summary"] in ARTICLE.replace("，", ",") or rec["summary"] in ARTICLE
        for t in rec["labels"]:
            assert set(t) == {"id", "name", "score"} and 0 <= t["score"] <= 1
    assert rules.predict(ARTICLE).labels[0].id == "outreach_clinic"


def test_predict_page_and_many_keep_order(predictor):
    page = (SEEDS / "003_a98c0e2f6a5c2cb4.txt").read_text(encoding="utf-8")
    preds = predictor.predict_page(page, source="003")
    assert [p.id for p in preds] == [f"003#{i}" for i in (1, 2, 4, 5, 6, 7)]
    items = [ARTICLE, {"id": "x", "text": ARTICLE}, {"id": "no-text"}, "   "]
    out = list(predictor.predict_many(items, batch_size=2))
    assert [p.id for p in out] == ["item-0", "x", "no-text", "item-3"]
    assert out[2].error and "text" in out[2].error and out[3].error and "empty" in out[3].error
    assert out[0].error is None and out[1].error is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=0, max_size=300))
def test_fuzz_predict_never_raises(rules, text):
    rec = rules.predict(text).to_dict()
    assert rec["error"] is None or "empty" in rec["error"]
    if rec["summary"]:
        assert rec["summary"] in rules.predict(text).summary
