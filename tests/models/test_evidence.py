"""Tests of models.evidence."""
from __future__ import annotations

import pytest
from healthtag.models.evidence import (
    decide,
    each_rule_alone,
    graded_vote,
    mentioning_sentences,
    prominence,
    rule_evidence,
    weighted_vote,
)
from healthtag.models.rules import RuleModel
from support import art
from typer.testing import CliRunner

runner = CliRunner()


def test_each_rule_alone_fires_on_any_vote_for_and_none_against(mini: RuleModel):
    tax = mini.taxonomy
    alone = each_rule_alone(mini.apply(art("医院医生来到社区开展义诊。")), tax)
    assert alone["outreach_clinic"] == 1.0
    vetoed = each_rule_alone(mini.apply(art("兽医站开展义诊下乡活动。")), tax)
    assert vetoed["outreach_clinic"] == 0.0
    assert set(alone) == {lab.id for lab in tax.all_labels}


def test_density_rules_gate_health(mini: RuleModel):
    tax = mini.taxonomy
    off = mini.apply(art("供电公司检修线路，保障园区用电。" * 5))
    health, _ = decide(weighted_vote(off, tax))
    assert not health
    on = mini.apply(art("医院专家为群众义诊，讲解健康知识，诊治疾病。" * 3))
    assert "high" in {h.rule for h in on.hits}
    health, topics = decide(weighted_vote(on, tax))
    assert health and topics == ["outreach_clinic"]


def test_weighted_vote_threshold_is_inclusive(mini: RuleModel):
    # one rule of weight 1 exactly meets threshold 1: the label fires on a health article
    probs = weighted_vote(mini.apply(art("医院医生为群众看病，讲健康，来到社区开展咨询和义诊。")), mini.taxonomy)
    assert probs["outreach_clinic"] >= 0.5


def test_mentions_count_sentences_with_matched_terms_headline_twice(mini: RuleModel):
    once = art("医院医生为群众看病，讲健康，来到社区开展咨询和义诊。天气晴朗。大家很满意。")
    votes = mini.apply(once)
    assert mentioning_sentences(once, votes)["outreach_clinic"] == 1
    assert "non_health" not in mentioning_sentences(once, votes)        # density terms are rates, not words
    titled = art(once.text, title="社区义诊")
    assert mentioning_sentences(titled, mini.apply(titled))["outreach_clinic"] == 3


def test_prominence_grows_with_mentions_and_caps_at_the_whole_vote():
    assert prominence(1) == pytest.approx(4 / 7) and prominence(2) == pytest.approx(6 / 7)
    assert prominence(3) == prominence(10) == 1.0


def test_graded_vote_discounts_a_passing_mention_and_keeps_a_repeated_one(mini: RuleModel):
    once = art("医院医生为群众看病，讲健康，来到社区开展咨询和义诊。天气晴朗。大家很满意。")
    v1 = mini.apply(once)
    flat, graded = weighted_vote(v1, mini.taxonomy), graded_vote(once, v1, mini.taxonomy)
    assert graded["outreach_clinic"] == pytest.approx(flat["outreach_clinic"] * 4 / 7)
    assert graded["non_health"] == flat["non_health"]
    thrice = art("医院医生为群众看病，讲健康，来到社区开展咨询和义诊。义诊持续一天。下午继续义诊。")
    v3 = mini.apply(thrice)
    assert graded_vote(thrice, v3, mini.taxonomy)["outreach_clinic"] == weighted_vote(v3, mini.taxonomy)["outreach_clinic"]
    assert rule_evidence("weighted_vote", once, v1, mini.taxonomy) == flat
    with pytest.raises(ValueError, match="unknown rule evidence"):
        rule_evidence("loudest", once, v1, mini.taxonomy)
