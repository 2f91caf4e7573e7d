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


def test_tagging_leaves_the_network_out_only_where_it_cannot_change_a_record(predictor):
    """General news the rules' gate excludes on its own is tagged without the encoder; every other
    field of every record is what running the network everywhere gives."""
    from healthtag.inference.segment import article_from_record

    sports = ("本报讯 昨日，市足球协会举办青少年足球联赛开幕式，来自全市的32支球队参加比赛。"
              "比赛将持续两个月，决赛定于八月在市体育中心举行。")
    arts = [article_from_record({"id": "sports", "title": "青少年足球联赛开幕", "text": sports}, "t")]
    for path in sorted(SEEDS.glob("*.txt"))[:2]:
        arts += [article_from_record({"id": a.id, "title": a.title or "", "text": a.text}, "t")
                 for a in predictor.predict_page(path.read_text(encoding="utf-8"), source=path.stem)]
    everywhere, scores = predictor.predict_with_scores(arts)
    need = predictor.scorer.needs_network(predictor.scorer.gate_floor(scores.evidence, scores.rules),
                                          predictor.thresholds.get("non_health", 0.5))
    assert not need[0] and need.any()
    before = predictor.gated_without_network
    tagged = list(predictor.predict_articles(arts))
    assert predictor.gated_without_network - before == int((~need).sum())
    for full, fast, needed in zip(everywhere, tagged, need):
        a, b = full.to_dict(), fast.to_dict()
        if not needed:
            assert not b["health"] and b["disagreement"] == []
            a.pop("disagreement"), b.pop("disagreement")
        assert a == b


def test_review_hints_of_general_news_speak_of_the_gate_only(predictor):
    """A general-news record's topics are never tagged, so neither hint may name one of them."""
    from healthtag.inference.segment import article_from_record
    from healthtag.models.scoring import near_threshold

    arts = [article_from_record({"id": a.id, "title": a.title or "", "text": a.text}, "t")
            for path in sorted(SEEDS.glob("*.txt"))
            for a in predictor.predict_page(path.read_text(encoding="utf-8"), source=path.stem)]
    preds, scores = predictor.predict_with_scores(arts)
    assert any(not p.health for p in preds) and any(p.health for p in preds)
    for i, p in enumerate(preds):
        if not p.health:
            assert set(p.near_threshold) <= {"non_health"} and set(p.disagreement) <= {"non_health"}
        row = scores.row(i)
        assert all(near_threshold(row[lab], predictor.thresholds.get(lab, 0.5)) for lab in p.near_threshold)


def test_keyphrases_rank_repeated_grams_after_rule_terms():
    from healthtag.inference.predictor import keyphrases

    text = "家庭医生签约服务。家庭医生上门服务。的健康的健康的健康。义诊活动，义诊活动。"
    got = keyphrases(text, top=4, seed_terms=["义诊", "健康/卫生", "医"])
    assert got[0] == "义诊"                        # rule terms first; "a/b" and one-character terms skipped
    assert "家庭医生" in got                       # the longest repeated gram wins over its parts
    assert not any(g in ("家庭", "庭医", "医生") for g in got)
    assert not any(g[0] == "的" or g[-1] == "的" for g in got)   # stop characters never open or close a phrase
    assert len(got) == 4
