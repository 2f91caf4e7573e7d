"""Taxonomy validation, each rule kind, provenance, aggregation, the label model, salience,
and the weak-label / rules-report / evaluate commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from healthtag.inference.article import Article
from healthtag.inference.cli import app
from healthtag.models.rules import RuleModel, needed_hits
from healthtag.models.taxonomy import TaxonomyError, load_taxonomy, parse_taxonomy
from healthtag.training.weak import (BinaryDawidSkene, LabelModel, decide, each_rule_alone, graded_vote,
                                    mentioning_sentences, prominence, rule_evidence, sentence_salience,
                                    weighted_vote)

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

MINI = """
version: 1
labels:
  - id: outreach_clinic
    name: 义诊与健康下乡
    rules:
      - {name: kw, kind: keywords, min_hits: 2, terms: [义诊, 下乡]}
      - {name: ttl, kind: title, weight: 1.5, terms: [义诊]}
      - {name: rx, kind: regex, scope: [body], pattern: "免费(?:体检|筛查)"}
      - {name: co, kind: cooccur, groups: [[走进, 来到], [村, 社区], [义诊, 咨询]]}
      - {name: no_animals, kind: veto, weight: 2.0, terms: [兽医]}
non_health:
  rules:
    - {name: low, kind: density, below: 5.0, terms: [医, 病, 健康]}
    - {name: high, kind: density, above: 20.0, vote: -1, terms: [医, 病, 健康]}
"""


def art(text: str, title: str = "") -> Article:
    return Article(id="t", source="t", start=0, end=len(text), title=title, text=text, sentences=[s + "。" for s in text.split("。") if s])


# ---------------------------------------------------------------- taxonomy


def test_default_taxonomy_loads_with_every_topic():
    tax = load_taxonomy()
    assert len(tax.labels) == 20
    assert {"tiered_care", "tcm", "health_promotion", "blood_donation"} <= set(tax.label_ids)
    assert tax.non_health.id == "non_health"
    assert all(any(r.vote > 0 for r in lab.rules) for lab in tax.all_labels)
    assert tax.name_of("tiered_care") == "分级诊疗与医联体"


@pytest.mark.parametrize(
    "bad, line, message",
    [
        (MINI.replace("kind: regex", "kind: regexp"), 9, "unknown kind 'regexp'"),
        (MINI.replace('"免费(?:体检|筛查)"', '"免费(体检"'), 9, "bad regular expression"),
        (MINI.replace("min_hits: 2", "min_hits: 0"), 7, "min_hits must be an integer >= 1"),
        (MINI.replace("scope: [body]", "scope: [footer]"), 9, "scope must be"),
        (MINI.replace("name: ttl", "name: kw"), 8, "duplicate rule name"),
        (MINI.replace("groups: [[走进, 来到], [村, 社区], [义诊, 咨询]]", "groups: [[走进]]"), 10, "at least two keyword groups"),
        (MINI.replace("below: 5.0, ", ""), 14, "exactly one of below/above"),
        (MINI.replace("weight: 1.5", "weight: heavy"), 8, "weight must be a number"),
        (MINI.replace("terms: [义诊]}", "terms: []}"), 8, "non-empty list"),
        (MINI.replace("    name: 义诊与健康下乡\n", ""), 4, "missing display name"),
        (MINI.replace("{name: kw, kind: keywords,", "{name: kw, kind: keywords, colour: red,"), 7, "unknown field"),
        (MINI + "  - oops: [unclosed\n", 16, "YAML syntax error"),
    ],
)
def test_taxonomy_errors_name_the_line(bad: str, line: int, message: str):
    with pytest.raises(TaxonomyError) as exc:
        parse_taxonomy(bad, source="tax.yaml")
    assert str(exc.value).startswith(f"tax.yaml:{line}:"), str(exc.value)
    assert message in str(exc.value)


def test_missing_taxonomy_file_is_reported(tmp_path: Path):
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "none.yaml")


# ---------------------------------------------------------------- rule kinds and provenance


@pytest.fixture()
def mini() -> RuleModel:
    return RuleModel(parse_taxonomy(MINI))


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


# ---------------------------------------------------------------- label model


def test_dawid_skene_recovers_known_rule_accuracies():
    rng = np.random.default_rng(0)
    n, prior = 6000, 0.3
    y = rng.random(n) < prior
    fire_pos = np.array([0.8, 0.6, 0.5, 0.7])  # P(rule fires | y = 1)
    fire_neg = np.array([0.05, 0.10, 0.02, 0.20])  # P(rule fires | y = 0)
    p_fire = np.where(y[:, None], fire_pos[None, :], fire_neg[None, :])
    votes = (rng.random((n, 4)) < p_fire).astype(np.int8)
    true_acc = prior * fire_pos / (prior * fire_pos + (1 - prior) * fire_neg)
    init = np.clip(votes.mean(axis=1) * 1.5, 0, 1)  # a crude weighted vote
    model = BinaryDawidSkene().fit(votes, init)
    est = np.array([a["acc_pos"] for a in model.rule_accuracy()])
    assert np.all(np.abs(est - true_acc) < 0.1), (est, true_acc)
    assert abs(model.prior - prior) < 0.05


def test_label_model_fits_and_saves(mini: RuleModel, tmp_path: Path):
    texts = ["医院专家走进社区开展义诊，送医下乡，为群众看病。"] * 10 + ["供电公司检修线路，保障用电。"] * 10
    votes = [mini.apply(art(t)) for t in texts]
    lm = LabelModel(mini).fit(votes)
    probs = lm.predict_proba(votes)
    assert probs[0]["outreach_clinic"] > 0.5 and probs[-1]["non_health"] > 0.5
    lm.save(tmp_path / "lm.json")
    again = LabelModel.load(tmp_path / "lm.json", mini).predict_proba(votes)
    assert again[0]["outreach_clinic"] == pytest.approx(probs[0]["outreach_clinic"])


def test_shipped_label_model_matches_the_default_rules():
    from healthtag.resources import bundled_label_model

    LabelModel.load(bundled_label_model(), RuleModel(load_taxonomy()))


# ---------------------------------------------------------------- salience


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


# ---------------------------------------------------------------- commands


def test_weak_label_command_on_a_seed_page():
    res = runner.invoke(app, ["weak-label", str(ROOT / "seeds" / "003_a98c0e2f6a5c2cb4.txt")])
    assert res.exit_code == 0, res.output
    recs = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(recs) == 6  # articles only: the 市州连线 column header is a fragment
    blood = next(r for r in recs if r["title"] == "昔日绝境还生 今朝爱心献血")
    assert blood["health"] and blood["labels"][0]["id"] == "blood_donation"
    assert "无偿献血" in blood["rule_hits"]["blood_donation"]
    assert any(r["rule"] == "blood_core" for r in blood["rules"])


def _gold_fixture(tmp_path: Path) -> Path:
    recs = [
        {"id": "g1", "title": "市医院专家走进社区开展义诊", "text": "市医院专家走进社区开展义诊，送医下乡，为群众测量血压。", "labels": ["outreach_clinic"]},
        {"id": "g2", "title": "供电所保障园区用电", "text": "供电公司工作人员检修线路，保障园区用电。", "labels": ["non_health"]},
        {"id": "g3", "title": "无偿献血温暖人心", "text": "市民踊跃参加无偿献血，血站工作人员耐心服务献血者。", "labels": ["blood_donation"]},
    ]
    p = tmp_path / "gold.jsonl"
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    return p


def test_evaluate_rules_only_prints_both_aggregators(tmp_path: Path):
    gold = _gold_fixture(tmp_path)
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["evaluate", "--gold", str(gold), "--rules-only", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "weighted vote" in res.stdout and "label model" in res.stdout and "better on micro-F1" in res.stdout
    rep = json.loads(out.read_text())["topics"]
    assert 0.0 <= rep["rules"]["micro_f1"] <= 1.0
    assert rep["weighted_vote"]["non_health_accuracy"] == 1.0
    assert rep["weighted_vote"]["micro_f1"] == 1.0


def test_evaluate_with_missing_model_is_a_usage_error(tmp_path: Path):
    res = runner.invoke(app, ["evaluate", "--gold", str(_gold_fixture(tmp_path)), "--model", str(tmp_path / "none")])
    assert res.exit_code == 2 and "--model" in res.output


def test_rules_report_with_gold_shows_precision(tmp_path: Path):
    res = runner.invoke(app, ["rules-report", "--gold", str(_gold_fixture(tmp_path))])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stdout.splitlines() if x.startswith("blood_core"))
    assert "100.0%" in line
    assert "label coverage" in res.stdout
