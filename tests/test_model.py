"""The training code path end to end on a tiny random BERT, plus chunking and summary decoding."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from healthtag.inference.summarize import (SummaryBudget, clip_to_clause, lead_scores, select_sentences,
                                           summarize, textrank_scores, usable_sentence)
from healthtag.models.chunking import tokenize_article, window_spans
from healthtag.models.topic_model import ModelLoadError, TopicSummaryModel
from healthtag.training.calibrate import best_threshold, cross_validated_sets, decide_labels


def test_window_spans_cover_everything_with_overlap():
    spans = window_spans(1000, window=256, overlap=32)
    assert spans[0] == (0, 254) and spans[-1][1] == 1000
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 == a1 - 32
    assert window_spans(0, 256, 32) == [(0, 0)]
    with pytest.raises(ValueError):
        window_spans(10, 256, 300)


def test_long_article_is_not_truncated(tiny_encoder_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_encoder_dir))
    sentences = ["县人民医院开展义诊活动，为群众免费测量血压。"] * 400
    art = tokenize_article(tok, "标题", sentences, window=64, overlap=8)
    assert art.n_tokens > 62 * 10 and len(art.windows) > 10
    assert all(c >= 1 for c in art.coverage)
    assert set(art.segment_of_token) == set(range(401))


def test_training_writes_a_loadable_model(tiny_model_dir: Path):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {"config.json", "heads.safetensors", "MODEL_CARD.md", "eval.json"} <= names
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["labels"][-1] == "non_health" and set(config["thresholds"]) == set(config["labels"])
    log = (tiny_model_dir.parent / "run" / "log.jsonl").read_text().splitlines()
    rows = [json.loads(x) for x in log]
    assert any("self_training_changed_fraction" in r for r in rows)
    assert any(r.get("dropped_targets", 0) > 0 for r in rows)          # loss filtering was active
    evaluation = json.loads((tiny_model_dir / "eval.json").read_text())
    assert {"rules", "weighted vote", "label model", "rule evidence", "network alone", "model"} <= set(evaluation["topics"])
    assert config["rule_evidence"] == "graded_vote" and set(config["evidence_thresholds"]) == set(config["labels"])
    assert {"lead_n", "textrank", "model"} == set(evaluation["summaries"])
    model = TopicSummaryModel.load(tiny_model_dir)
    scores = model.score([("义诊", ["专家走进乡村开展义诊。", "群众纷纷点赞。"])])
    assert scores[0].network.shape == (len(config["labels"]),) and scores[0].sentence.shape == (2,)
    assert np.all((scores[0].network >= 0) & (scores[0].network <= 1))


def test_predictor_combines_the_network_with_the_models_rule_evidence(tiny_model_dir: Path):
    """The tags' scores are max(network, graded vote), not the flat weighted vote, when the config says so."""
    from healthtag.inference.predictor import Predictor
    from healthtag.inference.segment import article_from_record
    from healthtag.models.rules import RuleModel
    from healthtag.models.topic_model import combine_scores
    from healthtag.training.weak import graded_vote, weighted_vote

    predictor = Predictor.load(tiny_model_dir)
    text = "县人民医院专家走进乡村开展义诊。" + "村民排队测量血压，领取宣传资料。" * 3 + "中医专家讲解养生知识。"
    pred = predictor.predict(text, title="义诊进乡村", id="x")
    model = predictor.model
    art = article_from_record({"id": "x", "title": "义诊进乡村", "text": text}, "x")
    votes = RuleModel(predictor.taxonomy).apply(art)
    graded, flat = graded_vote(art, votes, predictor.taxonomy), weighted_vote(votes, predictor.taxonomy)
    assert graded["tcm"] < flat["tcm"]                       # the scaling is in effect for this article
    network = model.score([(art.title, art.sentences)])[0].network
    expected = combine_scores(network, np.array([graded.get(k, 0.0) for k in model.labels]), model.combine)
    scored = {t.id: t.score for t in pred.labels}
    assert scored, "the article should get at least one topic"
    for label, score in scored.items():
        assert score == pytest.approx(expected[model.labels.index(label)], abs=1e-4)


def test_broken_model_dir_is_a_clear_error(tmp_path, tiny_model_dir):
    with pytest.raises(ModelLoadError, match="no such model directory"):
        TopicSummaryModel.load(tmp_path / "nope")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        TopicSummaryModel.load(bad)


def test_summary_respects_budget_order_and_never_invents_text():
    sents = ["记者 张三 摄", "1月24日，市卫健委召开全市卫生健康工作会议，部署今年重点任务。",
             "会议强调要推进紧密型县域医共体建设，完善双向转诊机制。", "2024年1月24日",
             "会议还通报了去年工作情况，全市医疗服务能力稳步提升。"]
    scores = [5.0, 0.2, 0.9, 5.0, 0.8]
    budget = SummaryBudget(min_chars=30, max_chars=80)
    chosen = select_sentences(sents, scores, budget)
    assert 0 not in chosen and 3 not in chosen and chosen == sorted(chosen)
    text = summarize(sents, scores, budget)
    assert len(text) <= 80 and all(sents[i] in text for i in chosen)
    assert not usable_sentence("记者 张三 摄") and not usable_sentence("2024年1月24日")
    long = "推进" + "，".join(["医疗服务能力稳步提升"] * 30) + "。"
    clipped = summarize([long], [1.0], SummaryBudget(min_chars=20, max_chars=60))
    assert long.startswith(clipped) and len(clipped) <= 60


def test_baseline_scores():
    assert lead_scores(3) == sorted(lead_scores(3), reverse=True)
    tr = textrank_scores(["医共体建设推进", "医共体建设取得成效", "天气晴朗"])
    assert tr[2] < tr[0] and max(tr) == 1.0
    assert clip_to_clause("一二三，四五六七八", 5) == "一二三"


def test_thresholds_cross_validated_predictions():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.9], [0.1, 0.8], [0.7, 0.3], [0.3, 0.7]])
    gold = [{"a"}, {"a"}, {"non_health"}, {"non_health"}, {"a"}, {"non_health"}]
    assert best_threshold(probs[:, 0], np.array(["a" in g for g in gold])) <= 0.7
    pred = cross_validated_sets(probs, gold, ["a", "non_health"], k=3)
    assert pred == gold
    assert decide_labels(probs[:1], ["a", "non_health"], {"a": 0.95}) == [set()]
