"""Tests of models.rules."""
from __future__ import annotations

import pytest
from healthtag.models.evidence import (
    decide,
    weighted_vote,
)
from healthtag.models.rules import RuleModel, needed_hits
from healthtag.models.taxonomy import load_taxonomy
from support import art
from typer.testing import CliRunner

from healthtag.text.article import Article

runner = CliRunner()


def fired(model: RuleModel, a: Article) -> dict[str, tuple]:
    return {h.rule: h.terms for h in model.apply(a).hits}


def test_keywords_need_min_hits_and_report_terms(mini: RuleModel):
    long_pad = "医院开展工作。" * 100  # long enough that min_hits is not scaled down
    assert "kw" not in fired(mini, art(long_pad + "专家开展义诊。"))
    hits = fired(mini, art(long_pad + "专家开展义诊，送医下乡。"))
    assert hits["kw"] == ("义诊", "下乡")


def test_min_hits_scale_down_for_short_texts():
    assert needed_hits(3, 100) == 1 and needed_hits(3, 300) == 2 and needed_hits(3, 5000) == 3


def test_title_rule_looks_at_the_title_only(mini: RuleModel):
    assert "ttl" in fired(mini, art("正文没有关键词。", title="专家义诊进社区"))
    assert "ttl" not in fired(mini, art("专家开展义诊。", title="专家进社区"))


def test_regex_rule_with_body_scope(mini: RuleModel):
    assert fired(mini, art("卫生院为村民提供免费体检。"))["rx"] == ("免费体检",)
    assert "rx" not in fired(mini, art("正文。", title="免费体检"))


def test_cooccur_needs_every_group_in_one_sentence(mini: RuleModel):
    assert set(fired(mini, art("专家走进社区开展义诊。"))["co"]) == {"走进", "社区", "义诊"}
    assert "co" not in fired(mini, art("专家走进社区。群众排队等候义诊。"))


def test_veto_votes_against(mini: RuleModel):
    votes = mini.apply(art("兽医站开展义诊下乡活动。"))
    veto = [h for h in votes.hits if h.rule == "no_animals"]
    assert veto and veto[0].vote == -1
    assert votes.score("outreach_clinic") == pytest.approx(1.0 - 2.0)


def test_default_rules_on_a_seed_like_article():
    model = RuleModel(load_taxonomy())
    a = art(
        "市中心医院与县人民医院组建医联体，推进分级诊疗，专家定期驻点帮扶乡镇卫生院。"
        "专家团队走进安山乡开展义诊，为村民提供健康咨询和疾病筛查服务。",
        title="医联体专家下乡义诊",
    )
    votes = model.apply(a)
    health, topics = decide(weighted_vote(votes, model.taxonomy))
    assert health and "tiered_care" in topics and "outreach_clinic" in topics
    assert "医联体" in votes.terms_by_label()["tiered_care"]
