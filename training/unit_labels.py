"""Weak labels on paragraphs: a training row for each paragraph where a topic rule fires.

Why: an article-level weak label says "this article is about 医联体" once, however
many of its paragraphs are; a topic that only a paragraph of a long report
covers is out-voted at article level and rare topics end up with a few dozen
examples. The quality issue asks for weak labels "where rules fire on a
sentence or paragraph, on that unit too". A paragraph row is:

* its vector: the token-weighted mean of its sentences' vectors from the
  article's own encoder pass (the document vector is the same mean over every
  token, so the document head reads a paragraph the way it reads an article);
* its targets: the rules applied to the paragraph alone (a text this short
  needs one keyword hit, `rules.needed_hits`), through the same label model
  that labels articles; its health flag is its article's, since a paragraph of
  a health article is health news whatever its own keywords say.

Only paragraphs of articles the weak labels call health news, and only those
where at least one topic rule votes for its topic, become rows; at most
`MAX_UNITS_PER_ARTICLE` per article (the most-voted ones), so that long reports
do not outweigh the short news items that users' pages are made of.
"""
from __future__ import annotations

import numpy as np
import torch
from healthtag.models.evidence import apply_gate
from healthtag.models.multitask import position_features
from healthtag.models.rules import ArticleVotes, RuleModel
from healthtag.models.taxonomy import NON_HEALTH, load_taxonomy
from healthtag.text.article import Article
from healthtag.text.textnorm import split_sentences

from .heads_training import TrainingData
from .label_model import LabelModel

MAX_UNITS_PER_ARTICLE = 4


def paragraph_sentences(text: str, sentences: list[str]) -> list[list[int]] | None:
    """Indices of ``sentences`` per paragraph of ``text``; None when they do not line up.

    Articles keep their body as paragraphs joined by newlines and their sentences
    as the paragraphs' sentences in order (section headings left out of the
    sentences); a heading line therefore matches no sentence and is skipped.
    """
    groups: list[list[int]] = []
    at = 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        parts = split_sentences(line)
        if parts and sentences[at:at + len(parts)] == parts:
            groups.append(list(range(at, at + len(parts))))
            at += len(parts)
    return groups if at == len(sentences) else None


def topic_votes(votes: ArticleVotes) -> int:
    """Positive votes cast for a topic (non_health's own votes do not count)."""
    return sum(1 for h in votes.hits if h.vote > 0 and h.label != NON_HEALTH)


def paragraph_units(article_id: str, text: str, sentences: list[str], rules: RuleModel,
                    limit: int = MAX_UNITS_PER_ARTICLE) -> list[tuple[list[int], ArticleVotes]]:
    """(sentence indices, rule votes) of the paragraphs where a topic rule fires, the most-voted first."""
    groups = paragraph_sentences(text, sentences)
    if not groups or len(groups) < 2:    # a one-paragraph article is already its own unit
        return []
    found = []
    for k, idx in enumerate(groups):
        para = "".join(sentences[i] for i in idx)
        votes = rules.apply(Article(id=f"{article_id}#p{k}", source="unit", start=0, end=len(para),
                                    text=para, sentences=[sentences[i] for i in idx]))
        n = topic_votes(votes)
        if n:
            found.append((n, k, idx, votes))
    found.sort(key=lambda x: (-x[0], x[1]))
    return [(idx, votes) for _, _, idx, votes in found[:limit]]


def unit_vector(sent_vecs: np.ndarray, sent_tokens: list[int], idx: list[int]) -> np.ndarray | None:
    """Token-weighted mean of the unit's sentence vectors; None when the encoder saw none of its tokens."""
    weights = np.asarray([sent_tokens[i] for i in idx], dtype=np.float32)
    if weights.sum() <= 0:
        return None
    return (sent_vecs[idx] * weights[:, None]).sum(axis=0) / weights.sum()


def unit_rows(weak, sentence_vectors: list[torch.Tensor], sentence_tokens: list[list[int]],
              label_model: LabelModel, labels: list[str], weight: float = 1.0) -> TrainingData | None:
    """Paragraph rows for the weak pool, or None when there are none.

    ``sentence_vectors`` and ``sentence_tokens`` are the pool articles' own, row-aligned
    with ``weak`` (the article rows already hold the vectors, so they are not read twice).
    """
    rules = label_model.rule_model
    nh = labels.index(NON_HEALTH)
    vecs, votes, article_nh = [], [], []
    for health, article_id, text, sents, soft, sent_vecs, tokens in zip(
            weak["health"], weak["id"], weak["text"], weak["sentences"], weak["soft_labels"],
            sentence_vectors, sentence_tokens):
        if not health:
            continue
        for idx, unit_votes in paragraph_units(article_id, text, sents, rules):
            vec = unit_vector(sent_vecs.numpy(), tokens, idx)
            if vec is not None:
                vecs.append(vec)
                votes.append(unit_votes)
                article_nh.append(float(soft[nh]))
    if not vecs:
        return None
    targets = []
    for p, p_nh in zip(label_model.predict_proba(votes, gate=False), article_nh):
        p = apply_gate({**p, NON_HEALTH: p_nh})
        targets.append([p[lab] for lab in labels])
    doc = torch.tensor(np.stack(vecs))
    n = len(vecs)
    # no sentence targets: the sentence head learns from whole articles only
    return TrainingData(doc, torch.tensor(targets, dtype=torch.float32), [torch.zeros(0, doc.shape[1])] * n,
                        [torch.zeros(0)] * n, [position_features(0, [])] * n,
                        [torch.zeros(0, dtype=torch.bool)] * n, torch.full((n,), float(weight)))


def pool_rows(weak, features, config, labels: list[str], target_column: str = "soft_labels") -> TrainingData:
    """The weak pool's training rows: one per article, plus paragraph rows when ``data.unit_labels`` asks.

    The paragraphs are labelled by the label model the same run fitted on the
    articles (``run_dir/weak/label_model.json``), so that both kinds of row mean
    the same thing by a vote. ``target_column``: the article rows' targets (the label model's own
    column serves heads that a fast-path student is distilled against: `teacher_heads`).
    """
    rows = TrainingData.build(features, weak, target_column, config.data.salience_from)
    if not config.data.unit_labels:
        return rows
    label_model = LabelModel.load(config.run_path / "weak" / "label_model.json", RuleModel(load_taxonomy(config.taxonomy)))
    units = unit_rows(weak, rows.sentences, features["sent_tokens"], label_model, labels)
    return rows if units is None else rows.concat(units)
