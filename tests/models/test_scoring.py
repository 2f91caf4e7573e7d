"""Tests of models.scoring: the one path from articles to scores to decisions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from healthtag.inference.segment import article_from_record
from healthtag.models.evidence import VoteSettings, graded_vote, weighted_vote
from healthtag.models.model_config import CombineSettings
from healthtag.models.scoring import Scorer, combine_scores, decide_batch
from healthtag.models.taxonomy import load_taxonomy
from healthtag.models.topic_model import NetworkOutput
from support import ARTICLE

TEXT = "县人民医院专家走进乡村开展义诊。" + "村民排队测量血压，领取宣传资料。" * 3 + "中医专家讲解养生知识。"


class FixedNetwork:
    """A stand-in network that returns the same probabilities for every article."""

    def __init__(self, labels: list[str], value: float) -> None:
        self.labels, self.value = labels, value
        self.calls = 0

    def run_network(self, articles):
        self.calls += 1
        return NetworkOutput(np.full((len(articles), len(self.labels)), self.value),
                             [np.zeros(len(a.sentences)) for a in articles])


@pytest.fixture()
def taxonomy():
    return load_taxonomy(None)


def articles():
    return [article_from_record({"id": "x", "title": "义诊进乡村", "text": TEXT}, "t"),
            article_from_record({"id": "y", "title": "", "text": ARTICLE}, "t")]


def test_rules_only_scores_are_the_weighted_vote(taxonomy):
    arts = articles()
    scores = Scorer(taxonomy).score(arts)
    assert scores.network is None and scores.sentence is None
    for i, a in enumerate(arts):
        flat = weighted_vote(scores.votes[i], taxonomy)
        assert scores.row(i) == pytest.approx({k: flat[k] for k in scores.labels})


def test_combined_is_max_of_network_and_graded_vote_with_the_rules_gate(taxonomy):
    labels = [lab.id for lab in taxonomy.all_labels]
    arts = articles()
    scores = Scorer(taxonomy, labels, CombineSettings("max_rules_gate", "graded_vote"),
                    network=FixedNetwork(labels, 0.3)).score(arts)
    graded = graded_vote(arts[0], scores.votes[0], taxonomy)
    flat = weighted_vote(scores.votes[0], taxonomy)
    assert graded["tcm"] < flat["tcm"]                                # one passing mention: scaled down
    for j, lab in enumerate(labels):
        expected = graded[lab] if lab == "non_health" else max(0.3, graded[lab])
        assert scores.combined[0, j] == pytest.approx(expected)
    assert np.allclose(scores.evidence[0], [graded[k] for k in labels])


def test_precomputed_network_gives_the_same_scores_as_running_it(taxonomy):
    labels = [lab.id for lab in taxonomy.all_labels]
    net = FixedNetwork(labels, 0.42)
    arts = articles()
    ran = Scorer(taxonomy, labels, network=net).score(arts)
    given = Scorer(taxonomy, labels).score(arts, network=np.full((2, len(labels)), 0.42))
    assert net.calls == 1
    assert np.allclose(ran.combined, given.combined) and np.allclose(ran.evidence, given.evidence)


def test_vote_settings_change_the_scores(taxonomy):
    arts = articles()
    soft = Scorer(taxonomy, combination=CombineSettings(votes=VoteSettings(sharpness=1.0))).score(arts)
    sharp = Scorer(taxonomy).score(arts)
    assert not np.allclose(soft.rules, sharp.rules)


def test_decide_batch_thresholds_gate_and_disagreement(taxonomy):
    labels = [lab.id for lab in taxonomy.all_labels]
    arts = articles()
    scores = Scorer(taxonomy, labels, network=FixedNetwork(labels, 0.0)).score(arts)
    strict = decide_batch(scores, {lab: 1.5 for lab in labels if lab != "non_health"})
    default = decide_batch(scores)
    assert all(d.health for d in default) and default[0].topics
    assert strict[0].topics == []                                     # thresholds are the model's, per label
    assert set(default[0].disagreement) == {labels[j] for j in range(len(labels)) if scores.rules[0, j] >= 0.5}
    assert default[0].topics == sorted(default[0].topics, key=lambda k: -scores.row(0)[k])
    gated = scores.combined.copy()
    gated[:, -1] = 0.9
    scores.combined = gated
    assert [d.gold_labels for d in decide_batch(scores)] == [{"non_health"}, {"non_health"}]


def test_unknown_combine_rule_is_an_error():
    with pytest.raises(ValueError, match="combine"):
        combine_scores(np.zeros((1, 2)), np.zeros((1, 2)), "median")
    with pytest.raises(ValueError, match="combine"):
        CombineSettings(combine="median")


def test_predictor_uses_the_scoring_path(tiny_model_dir: Path):
    from healthtag.inference.predictor import Predictor

    predictor = Predictor.load(tiny_model_dir)
    pred = predictor.predict(TEXT, title="义诊进乡村", id="x")
    art = article_from_record({"id": "x", "title": "义诊进乡村", "text": TEXT}, "x")
    cfg = predictor.model.config
    scores = Scorer(predictor.taxonomy, cfg.labels, cfg.combination, network=predictor.model).score([art])
    decision = decide_batch(scores, cfg.thresholds, cfg.network_thresholds)[0]
    assert [t.id for t in pred.labels] == decision.topics and pred.disagreement == decision.disagreement
    for t in pred.labels:
        assert t.score == pytest.approx(scores.row(0)[t.id], abs=1e-4)


def test_gate_variants_differ_only_in_the_gate_column():
    network = np.array([[0.2, 0.9, 0.8]])
    rules = np.array([[0.6, 0.1, 0.2]])
    topics = np.maximum(network, rules)[0, :2]
    for rule, gate in (("max_rules_gate", 0.2), ("max_network_gate", 0.8), ("max_mean_gate", 0.5)):
        out = combine_scores(network, rules, rule)
        assert np.allclose(out[0, :2], topics) and out[0, 2] == pytest.approx(gate), rule


def test_rule_evidence_the_network_does_not_share_scores_lower():
    network = np.array([[0.0, 1.0, 0.4, 0.3]])
    rules = np.array([[1.0, 1.0, 0.0, 0.9]])
    every_topic_in_passing = rules + 0.05      # flat vote above the graded one: the discount applies everywhere
    out = combine_scores(network, rules, "max_mean_gate", gate_column=3, rules_alone_weight=0.75,
                         flat_rules=every_topic_in_passing)
    # a rule hit alone keeps 3/4 of its evidence, one the network shares keeps all of it,
    # the network alone is unchanged, and the health gate column is never scaled
    assert out[0, :3] == pytest.approx([0.75, 1.0, 0.4])
    assert out[0, 3] == pytest.approx((0.3 + 0.9) / 2)
    assert np.array_equal(combine_scores(network, rules, "max_mean_gate", gate_column=3),
                          combine_scores(network, rules, "max_mean_gate", gate_column=3, rules_alone_weight=1.0))
    assert combine_scores(network, rules, "max_mean_gate", 3, 1.0)[0, 0] == 1.0


def test_rules_alone_weight_is_checked_and_reaches_the_scorer(taxonomy):
    with pytest.raises(ValueError, match="rules_alone_weight"):
        CombineSettings(rules_alone_weight=1.5)
    art = article_from_record({"id": "x", "title": "义诊进乡村", "text": TEXT}, "x")
    labels = [lab.id for lab in taxonomy.all_labels]
    zeros = np.zeros((1, len(labels)))
    full = Scorer(taxonomy, labels, CombineSettings("max_mean_gate")).score([art], network=zeros)
    damped = Scorer(taxonomy, labels, CombineSettings("max_mean_gate", rules_alone_weight=0.5)).score(
        [art], network=zeros)
    topics = [j for j, lab in enumerate(labels) if lab != "non_health"]
    passing = [j for j in topics if full.evidence[0, j] < full.rules[0, j]]
    dwelt_on = [j for j in topics if full.evidence[0, j] > 0 and j not in passing]
    assert passing and dwelt_on        # 中医 in one sentence; 义诊 in the headline and a sentence
    assert damped.combined[0, passing] == pytest.approx(0.5 * full.combined[0, passing])
    assert damped.combined[0, dwelt_on] == pytest.approx(full.combined[0, dwelt_on])


def test_only_passing_mentions_are_discounted():
    network = np.array([[0.0, 0.0, 0.5]])
    graded = np.array([[0.6, 0.9, 0.5]])
    flat = np.array([[0.9, 0.9, 0.5]])     # first topic: two of the three mentions a full vote needs
    out = combine_scores(network, graded, "max_mean_gate", gate_column=2, rules_alone_weight=0.75, flat_rules=flat)
    assert out[0, :2] == pytest.approx([0.45, 0.9])
    with pytest.raises(ValueError, match="flat_rules"):      # without the flat vote no mention counts as passing
        combine_scores(network, graded, "max_mean_gate", gate_column=2, rules_alone_weight=0.75)


SPORTS = "本报讯 昨日，市足球协会举办青少年足球联赛开幕式，来自全市的32支球队参加比赛。比赛将持续两个月，决赛定于八月在市体育中心举行。"


class RecordingNetwork(FixedNetwork):
    """FixedNetwork that remembers which articles it was asked to score."""

    def __init__(self, labels: list[str], value: float) -> None:
        super().__init__(labels, value)
        self.seen: list[str] = []

    def run_network(self, articles):
        self.seen += [a.id for a in articles]
        return super().run_network(articles)


def mixed_batch():
    return [article_from_record({"id": "sports", "title": "青少年足球联赛开幕", "text": SPORTS}, "t"),
            article_from_record({"id": "clinic", "title": "义诊进乡村", "text": TEXT}, "t")]


@pytest.mark.parametrize("network_value", [0.0, 1.0])
def test_network_is_left_out_only_where_the_rules_gate_decides_alone(taxonomy, network_value):
    labels = [lab.id for lab in taxonomy.all_labels]
    net = RecordingNetwork(labels, network_value)
    scorer = Scorer(taxonomy, labels, CombineSettings("max_mean_gate"), network=net)
    arts = mixed_batch()
    whole = scorer.score(arts)
    skipped = scorer.score(arts, skip_gated_at=0.05)
    assert net.seen == ["sports", "clinic", "clinic"]                 # the second call left the sports report out
    assert skipped.network_ran.tolist() == [False, True]
    assert np.isnan(skipped.network[0]).all() and skipped.sentence[0] is None
    assert np.array_equal(skipped.combined[1], whole.combined[1])
    full, fast = decide_batch(whole, {"non_health": 0.05}), decide_batch(skipped, {"non_health": 0.05})
    assert [(d.health, d.topics) for d in fast] == [(d.health, d.topics) for d in full]
    assert (full[0].health, full[0].topics) == (False, [])
    assert fast[0].disagreement == [] and fast[1].disagreement == full[1].disagreement


def test_network_runs_where_its_answer_could_still_matter(taxonomy):
    labels = [lab.id for lab in taxonomy.all_labels]
    arts = mixed_batch()
    for combine, threshold in (("max_network_gate", 0.05),   # the network's gate alone decides
                               ("max_mean_gate", 0.6),       # the rules' 0.99 averaged with 0 is under 0.6
                               ("max_mean_gate", 0.47)):     # 0.495 would be near 0.47 (review hint)
        net = RecordingNetwork(labels, 0.0)
        scores = Scorer(taxonomy, labels, CombineSettings(combine), network=net).score(arts, skip_gated_at=threshold)
        assert net.seen == ["sports", "clinic"], (combine, threshold)
        assert scores.network_ran is None


def test_a_general_news_articles_disagreement_speaks_of_the_gate_only(taxonomy):
    labels = [lab.id for lab in taxonomy.all_labels]
    scores = Scorer(taxonomy, labels, CombineSettings("max_mean_gate"), network=FixedNetwork(labels, 0.0)).score(
        mixed_batch())
    decisions = decide_batch(scores, {"non_health": 0.05})
    assert not decisions[0].health and decisions[0].disagreement == ["non_health"]  # rules: general news; network: not
    assert decisions[1].health and "non_health" not in decisions[1].disagreement


def test_near_threshold_is_measured_in_log_odds():
    from healthtag.models.scoring import near_threshold

    assert near_threshold(0.53, 0.5) and near_threshold(0.47, 0.5) and not near_threshold(0.56, 0.5)
    assert near_threshold(0.045, 0.05) and near_threshold(0.058, 0.05)
    assert not near_threshold(0.0, 0.05) and not near_threshold(0.001, 0.05)   # a fixed 0.05 called these near
    assert not near_threshold(float("nan"), 0.5)
