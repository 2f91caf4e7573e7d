"""Tests of training.salience."""
from __future__ import annotations

from healthtag.models.rules import RuleModel
from healthtag.models.taxonomy import load_taxonomy
from healthtag.training.salience import sentence_salience
from typer.testing import CliRunner

from healthtag.text.article import Article

runner = CliRunner()


def test_salience_prefers_the_factual_sentence_over_quote_and_byline():
    model = RuleModel(load_taxonomy())
    a = Article(
        id="s", source="s", start=0, end=0, title="医联体",
        text="",
        sentences=[
            "“终于又把你们盼来了！”",
            "2024年，市中心医院组建医联体，帮扶9个县170余个乡镇，服务群众近40万人次。",
            "通讯员 张三 摄",
        ],
    )
    votes = model.apply(Article(id="s", source="s", start=0, end=0, title="医联体", text=" ".join(a.sentences)))
    sal = sentence_salience(a, votes, ["tiered_care"])
    assert len(sal) == 3 and max(sal) == sal[1] and all(0.0 <= x <= 1.0 for x in sal)
