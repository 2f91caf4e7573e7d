"""Tests of training.unit_labels: paragraph rows line up with their sentences and carry the paragraph's votes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from healthtag.models.rules import RuleModel
from healthtag.models.taxonomy import NON_HEALTH, load_taxonomy
from healthtag.text.textnorm import split_sentences
from healthtag.training.unit_labels import paragraph_sentences, paragraph_units, unit_rows

TCM = "市中医院开展针灸和推拿义务服务，中医专家为居民讲解艾灸知识。"
PLAIN = "当天天气晴朗，现场秩序井然。活动持续到中午。"
OUTREACH = "医疗队走进社区开展义诊，为老人免费体检。现场还提供健康咨询。"


def sentences_of(paragraphs: list[str]) -> list[str]:
    return [s for p in paragraphs for s in split_sentences(p)]


@pytest.fixture(scope="module")
def rules() -> RuleModel:
    return RuleModel(load_taxonomy(None))


def test_paragraph_sentences_groups_and_skips_headings():
    paras = [TCM, PLAIN, OUTREACH]
    sents = sentences_of(paras)
    text = "\n".join([paras[0], "一、活动概况", paras[1], paras[2]])   # a section heading, not among the sentences
    groups = paragraph_sentences(text, sents)
    assert groups is not None and len(groups) == 3
    assert [sents[i] for i in groups[1]] == split_sentences(PLAIN)
    assert sorted(i for g in groups for i in g) == list(range(len(sents)))
    assert paragraph_sentences(text, sents[1:] + sents[:1]) is None   # sentences out of step: no units


def test_paragraph_units_are_the_paragraphs_where_a_topic_rule_fires(rules):
    paras = [TCM, PLAIN, OUTREACH]
    sents = sentences_of(paras)
    units = paragraph_units("a", "\n".join(paras), sents, rules)
    groups = paragraph_sentences("\n".join(paras), sents)
    assert [idx for idx, _ in units] != [] and groups[1] not in [idx for idx, _ in units]
    labels_by_unit = {tuple(idx): {h.label for h in v.hits if h.vote > 0} for idx, v in units}
    assert "tcm" in labels_by_unit[tuple(groups[0])]
    assert "outreach_clinic" in labels_by_unit[tuple(groups[2])]
    assert "tcm" not in labels_by_unit[tuple(groups[2])]          # a paragraph's own votes, not the article's
    assert len(paragraph_units("a", "\n".join(paras), sents, rules, limit=1)) == 1
    assert paragraph_units("b", TCM, split_sentences(TCM), rules) == []   # one paragraph: the article is the unit


class FixedLabelModel:
    """The real rules with a fixed posterior, so the test can say what each row's targets must be."""

    def __init__(self, rule_model: RuleModel, probs: dict[str, float]):
        self.rule_model = rule_model
        self.probs = probs

    def predict_proba(self, votes, gate: bool = True):
        return [dict(self.probs) for _ in votes]


def test_unit_rows_pool_their_sentences_and_keep_the_articles_health(rules):
    labels = ["tcm", "outreach_clinic", NON_HEALTH]
    paras = [TCM, PLAIN, OUTREACH]
    sents = sentences_of(paras)
    dim = 4
    vecs = np.arange(len(sents) * dim, dtype=np.float32).reshape(len(sents), dim)
    tokens = [10] * len(sents)
    tokens[-1] = 0                                   # the encoder never saw the last sentence
    health_row = {"id": "h", "text": "\n".join(paras), "sentences": sents, "health": True,
                  "soft_labels": [0.9, 0.2, 0.3]}
    general_row = dict(health_row, id="g", health=False)

    def columns(rows: list[dict]) -> dict[str, list]:
        return {k: [r[k] for r in rows] for k in rows[0]}

    weak = columns([health_row, general_row])
    model = FixedLabelModel(rules, {"tcm": 0.8, "outreach_clinic": 0.6, NON_HEALTH: 0.1})
    data = unit_rows(weak, [torch.from_numpy(vecs)] * 2, [tokens] * 2, model, labels, weight=0.5)
    groups = paragraph_sentences(health_row["text"], sents)
    assert data is not None and len(data) == 2                  # two firing paragraphs of the health article only
    seen = [i for i in groups[2] if tokens[i] > 0]
    expected = {tuple(vecs[groups[0]].mean(axis=0)), tuple(vecs[seen].mean(axis=0))}
    assert {tuple(r) for r in data.doc.numpy()} == expected
    assert torch.allclose(data.targets, torch.tensor([[0.8, 0.6, 0.3]] * 2))   # non_health is the article's
    assert torch.all(data.weights == 0.5) and not data.clean.any()
    assert all(len(m) == 0 for m in data.sentence_mask)            # no sentence targets from paragraphs
    assert unit_rows(columns([general_row]), [torch.from_numpy(vecs)], [tokens], model, labels) is None
