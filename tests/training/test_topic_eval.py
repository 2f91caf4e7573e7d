"""The paired bootstrap of a margin: consistent with the report's own F1, paired, and honest about its width."""
import numpy as np
import pytest
from healthtag.training.topic_eval import article_counts, micro_macro, paired_bootstrap, score_topics

LABELS = ["a", "b", "c"]
GOLD = [{"a"}, {"b"}, {"non_health"}, {"a", "b"}, {"c"}, {"a"}] * 8


def report(name, predicted):
    return score_topics(name, GOLD, predicted * 8, LABELS)


def test_counts_summed_over_every_article_give_the_reports_own_f1():
    rules = report("rules", [{"a"}, {"a"}, {"non_health"}, {"a"}, set(), {"a", "c"}])
    names = sorted(rules.per_label)
    micro, macro = micro_macro(article_counts(rules, names).sum(0)[None])
    assert micro[0] == pytest.approx(rules.micro_f1)
    assert macro[0] == pytest.approx(rules.macro_f1)


def test_a_row_against_itself_has_a_zero_width_interval():
    rules = report("rules", [{"a"}, {"a"}, {"non_health"}, {"a"}, set(), {"a", "c"}])
    out = paired_bootstrap(rules, rules, draws=200)
    assert out["micro_f1"] == [0.0, 0.0] and out["macro_f1"] == [0.0, 0.0]


def test_a_better_row_has_a_positive_interval_around_its_margin():
    rules = report("rules", [{"a"}, {"a"}, {"non_health"}, {"a"}, set(), {"a", "c"}])
    model = report("model", [{"a"}, {"b"}, {"non_health"}, {"a", "b"}, {"c"}, {"a", "c"}])
    out = paired_bootstrap(rules, model, draws=500)
    low, high = out["micro_f1"]
    assert 0 < low < model.micro_f1 - rules.micro_f1 < high
    assert out == paired_bootstrap(rules, model, draws=500)          # seeded: the same interval every run


def test_reports_on_different_articles_are_refused():
    rules = report("rules", [{"a"}, {"a"}, {"non_health"}, {"a"}, set(), {"a", "c"}])
    other = score_topics("other", GOLD[:6], [{"a"}] * 6, LABELS)
    with pytest.raises(ValueError, match="same gold articles"):
        paired_bootstrap(rules, other)
