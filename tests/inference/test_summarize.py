"""Tests of inference.summarize."""
from __future__ import annotations

from healthtag.inference.summarize import (
    SummaryBudget,
    clip_to_clause,
    lead_scores,
    select_sentences,
    summarize,
    textrank_scores,
    usable_sentence,
)


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
