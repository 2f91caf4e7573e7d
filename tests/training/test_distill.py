"""Tests of training.distill and the fast runtime path it writes into a model directory."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from healthtag.inference.predictor import Predictor
from healthtag.models.model_config import ModelLoadError, read_model_config, write_model_config
from healthtag.models.multitask import MultiTaskHeads
from healthtag.models.topic_model import FAST_LAYERS_FILE, TopicSummaryModel, choose_runtime
from healthtag.training.config import load_train_config
from healthtag.training.distill import (DistillConfig, bernoulli_kl, distillation_loss, run_distill, sample_windows,
                                       window_ranking_kl)
from healthtag.training.fast_check import agreement, format_record, repeated_gap, run_check, scored
from healthtag.training.gold import load_gold
from support import SEEDS

PAGE = (SEEDS / "003_a98c0e2f6a5c2cb4.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def distilled(tiny_model_dir: Path, tiny_config_path: Path, tmp_path_factory) -> tuple[Path, object]:
    """A copy of the tiny 2-layer model with a 1-layer fast path distilled on the seed pages."""
    base = tmp_path_factory.mktemp("distilled")
    model_dir = base / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    config = load_train_config(tiny_config_path)
    config.run_dir = str(base / "run")
    config.distill = DistillConfig(layers_from=[1], windows=64, steps=40, batch_windows=8, lr=1e-3, warmup=5,
                                   check_articles=6, rank_weight=0.5)
    run_distill(config, model_dir)
    return model_dir, config


def test_distillation_loss_is_zero_for_the_teachers_own_states_and_positive_otherwise():
    torch.manual_seed(0)
    heads = MultiTaskHeads(8, 3, head_hidden=4).eval()
    states = torch.randn(2, 6, 8)
    segment = torch.tensor([[-1, 0, 1, 1, 2, -1], [-1, 3, 3, 4, -1, -1]])
    positions = torch.rand(2, 5, 4)
    scale = torch.ones(8)
    same = distillation_loss(states, states, segment, positions, heads, scale)
    assert set(same) == {"tokens", "sentences", "window", "doc_head", "sentence_head"}
    assert all(float(v.detach()) == 0.0 for v in same.values())
    moved = distillation_loss(states + 0.1 * torch.randn_like(states), states, segment, positions, heads, scale)
    assert all(float(v.detach()) > 0.0 for v in moved.values())
    # padding and <s>/</s> never count: changing them changes nothing
    padded = states.clone()
    padded[segment < 0] += 5.0
    assert all(float(v.detach()) == 0.0 for v in distillation_loss(padded, states, segment, positions, heads, scale).values())


def test_ranking_term_sees_only_the_order_within_each_window():
    teacher = torch.tensor([2.0, 0.0, -1.0, 1.0, 3.0])
    window = torch.tensor([0, 0, 0, 1, 1])
    # a constant shift per window leaves every softmax, hence the term, unchanged
    shifted = teacher + torch.tensor([5.0, 5.0, 5.0, -2.0, -2.0])
    assert float(window_ranking_kl(shifted, teacher, window)) == pytest.approx(0.0, abs=1e-6)
    # swapping the first two sentences of window 0 costs something; a lone sentence never does
    swapped = teacher.clone()
    swapped[[0, 1]] = swapped[[1, 0]]
    assert float(window_ranking_kl(swapped, teacher, window)) > 0.1
    assert float(window_ranking_kl(torch.tensor([1.0]), torch.tensor([-4.0]), torch.tensor([0]))) == 0.0
    # it enters the loss only when asked for, scaled by its weight
    torch.manual_seed(0)
    heads = MultiTaskHeads(8, 3, head_hidden=4).eval()
    states = torch.randn(2, 6, 8)
    segment = torch.tensor([[-1, 0, 1, 1, 2, -1], [-1, 3, 3, 4, -1, -1]])
    positions, scale = torch.rand(2, 5, 4), torch.ones(8)
    moved = states + 0.3 * torch.randn_like(states)
    one = distillation_loss(moved, states, segment, positions, heads, scale, rank_weight=1.0)
    two = distillation_loss(moved, states, segment, positions, heads, scale, rank_weight=2.0)
    assert "sentence_rank" in one and float(one["sentence_rank"]) > 0
    assert float(two["sentence_rank"]) == pytest.approx(2 * float(one["sentence_rank"]))


def test_bernoulli_kl_weighs_probabilities_not_logits():
    teacher = torch.tensor([[-9.0, 0.0, 0.5]])
    assert bernoulli_kl(teacher, teacher).abs().max() < 1e-7
    # two logits of error far from any threshold cost almost nothing; the same error mid-range costs a lot
    far = bernoulli_kl(torch.tensor([-9.0]), torch.tensor([-7.0]))
    near = bernoulli_kl(torch.tensor([0.0]), torch.tensor([2.0]))
    assert float(far) < 0.01 < float(near)
    assert float(bernoulli_kl(torch.tensor([1.0]), torch.tensor([-1.0]))) > 0
    # the document term uses it when asked for, and is still zero for a perfect student
    torch.manual_seed(0)
    heads = MultiTaskHeads(8, 3, head_hidden=4).eval()
    states = torch.randn(2, 6, 8)
    segment = torch.tensor([[-1, 0, 1, 1, 2, -1], [-1, 3, 3, 4, -1, -1]])
    positions, scale = torch.rand(2, 5, 4), torch.ones(8)
    same = distillation_loss(states, states, segment, positions, heads, scale, doc_loss="bernoulli_kl")
    assert float(same["doc_head"]) == pytest.approx(0.0, abs=1e-7)
    moved = states + 0.3 * torch.randn_like(states)
    kl = distillation_loss(moved, states, segment, positions, heads, scale, doc_loss="bernoulli_kl")
    mse = distillation_loss(moved, states, segment, positions, heads, scale)
    assert float(kl["doc_head"]) > 0 and float(kl["doc_head"]) != pytest.approx(float(mse["doc_head"]))
    assert float(kl["tokens"]) == pytest.approx(float(mse["tokens"]))
    with pytest.raises(ValueError, match="doc_loss"):
        DistillConfig(doc_loss="cosine")


def test_distilled_fast_path_is_recorded_shipped_and_served(distilled):
    model_dir, config = distilled
    cfg = read_model_config(model_dir)
    assert cfg.fast is not None and cfg.fast.encoder.num_layers == 1
    assert Path(cfg.fast.encoder.tuned_layers) == model_dir / FAST_LAYERS_FILE and (model_dir / FAST_LAYERS_FILE).is_file()
    raw = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert raw["fast"]["encoder"]["tuned_layers"] == FAST_LAYERS_FILE   # relative: the directory can move
    history = cfg.fast.recipe["history"]
    assert history[-1]["step"] == 40 and len(cfg.fast.recipe["check_articles"]) == 6
    first, last = history[0], history[-1]
    assert sum(v for k, v in last.items() if k not in ("step", "seconds")) < \
        sum(v for k, v in first.items() if k not in ("step", "seconds"))
    assert choose_runtime(cfg) == "fast" and choose_runtime(cfg, "full") == "full"
    assert "## Fast runtime path" in (model_dir / "MODEL_CARD.md").read_text(encoding="utf-8")   # card refreshed
    fast, full = Predictor.load(model_dir), Predictor.load(model_dir, runtime="full")
    assert fast.model.runtime == "fast" and len(fast.model.encoder.model.encoder.layer) == 1
    assert full.model.runtime == "full" and len(full.model.encoder.model.encoder.layer) == 2
    assert "fast path (1-layer encoder distilled from the 2-layer one" in fast.model.runtime_note
    fast_records, full_records = fast.predict_page(PAGE, "p"), full.predict_page(PAGE, "p")
    assert [r.id for r in fast_records] == [r.id for r in full_records] and all(r.error is None for r in fast_records)
    # the student's trained weights are what serves, not the teacher layer it started from
    from safetensors.torch import load_file

    shipped = load_file(str(model_dir / FAST_LAYERS_FILE))
    served = fast.model.encoder.model.state_dict()
    assert all(torch.equal(v.to(served[k].dtype), served[k]) for k, v in shipped.items())
    teacher_layer = full.model.encoder.model.state_dict()
    assert any(not torch.equal(v, teacher_layer[k.replace("layer.0.", "layer.1.")].float()) for k, v in shipped.items())


def test_fast_path_is_the_same_model_run_cheaper_and_the_check_records_it(distilled):
    model_dir, config = distilled
    record = run_check(config, model_dir)
    assert record["agreement"]["articles"] == 6
    assert 0.0 <= record["agreement"]["same_topics"] <= 1.0 and record["agreement"]["score_diff_mean"] >= 0.0
    assert set(record["gold"]) >= {"full", "fast"} and "micro_f1" in record["gold"]["fast"]
    gap = record["gold"]["rouge_l_gap"]   # 6 of the fixture's 8 articles have a reference abstract
    assert gap["n"] == 6 and gap["ci95"][0] <= gap["diff"] <= gap["ci95"][1]
    rep = record["gold"]["repeated_cv"]   # the paired gap over 10 fold seeds is the mean of per-seed differences
    assert rep["seeds"] == 10 and rep["gap_micro_f1"]["mean"] == pytest.approx(
        rep["fast"]["micro_f1"]["mean"] - rep["full"]["micro_f1"]["mean"], abs=2e-4)
    assert 0 <= rep["gap_macro_f1"]["seeds_within_0.01"] <= 10
    assert "fold seeds" in format_record(record)
    assert "fold seeds" in (model_dir / "MODEL_CARD.md").read_text(encoding="utf-8")   # the card shows it too
    saved = read_model_config(model_dir).fast.validation
    assert "fast/bf16" in saved and saved["fast/bf16"]["cpu"]
    # the heads and thresholds are the model's own: one config, two encoders
    fast = TopicSummaryModel.load(model_dir, runtime="fast")
    full = TopicSummaryModel.load(model_dir, runtime="full")
    assert fast.config.thresholds == full.config.thresholds
    assert all(torch.equal(a, b) for a, b in zip(fast.heads.state_dict().values(), full.heads.state_dict().values()))


def test_one_path_against_itself_has_no_gap(distilled):
    model_dir, config = distilled
    same = Predictor.load(model_dir, runtime="full")
    gold = load_gold(Path(config.data.calibration_gold))
    _, matrix = scored(same, gold.articles)
    rep = repeated_gap(matrix, matrix.copy(), gold.labels, list(same.model.labels), same.taxonomy.label_ids, seeds=3)
    assert rep["gap_micro_f1"] == {"mean": 0.0, "sd": 0.0, "seeds_within_0.01": 3}
    assert rep["full"] == rep["fast"]


def test_fast_path_on_the_calibration_file_is_decided_with_the_full_paths_thresholds(distilled):
    from healthtag.training.evaluate import evaluate

    model_dir, config = distilled
    gold = Path(config.data.calibration_gold)
    assert read_model_config(model_dir).calibration["gold_digest"]   # the fixture model was calibrated on it
    fast, _ = evaluate(gold, model_dir, runtime="fast")
    full, _ = evaluate(gold, model_dir, runtime="full")
    assert any("fitted on the full path's scores" in n for n in fast["notes"])
    assert not any("fitted on the full path's scores" in n for n in full["notes"])


def test_rouge_l_per_article_scores_each_pair():
    from healthtag.training.evaluate import rouge_l_per_article

    out = rouge_l_per_article(["甲乙丙丁。", "甲乙", ""], ["甲乙丙丁。", "丙丁", "甲乙"])
    assert out[0] == pytest.approx(1.0) and out[1] == 0.0 and out[2] == 0.0


def test_agreement_counts_identical_decisions():
    from healthtag.inference.predictor import Prediction, TopicTag

    a = [Prediction("1", "s", health=True, labels=[TopicTag("tcm", "中医药", 0.9)], summary="甲乙丙。"),
         Prediction("2", "s", health=False)]
    b = [Prediction("1", "s", health=True, labels=[TopicTag("tcm", "中医药", 0.8), TopicTag("workforce", "人才", 0.6)],
                    summary="甲乙丙。"),
         Prediction("2", "s", health=False)]
    out = agreement(a, b, np.array([[0.9, 0.1], [0.2, 0.9]]), np.array([[0.8, 0.6], [0.2, 0.9]]))
    assert out["same_health"] == 1.0 and out["same_topics"] == 0.5 and out["topic_jaccard"] == 0.75
    assert out["same_summary"] == 1.0 and out["score_diff_mean"] == pytest.approx(0.15)


def test_asking_for_a_fast_path_a_model_lacks_is_a_clear_error(tiny_model_dir: Path):
    with pytest.raises(ModelLoadError, match="no fast path"):
        TopicSummaryModel.load(tiny_model_dir, runtime="fast")
    with pytest.raises(ValueError, match="runtime must be one of"):
        TopicSummaryModel.load(tiny_model_dir, runtime="quick")
    assert TopicSummaryModel.load(tiny_model_dir).runtime == "full"   # auto without a fast path


def test_precision_override_is_validated(tiny_model_dir: Path):
    model = TopicSummaryModel.load(tiny_model_dir, precision="fp32")
    assert model.settings.precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        TopicSummaryModel.load(tiny_model_dir, precision="fp8")


def test_retraining_without_a_fast_path_removes_the_stale_layers(distilled, tmp_path):
    from healthtag.models.topic_model import save_model

    model_dir, _ = distilled
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    model = TopicSummaryModel.load(copy, runtime="full")
    config = replace(model.config, fast=None)
    save_model(copy, config, model.heads, None)
    assert not (copy / FAST_LAYERS_FILE).exists() and read_model_config(copy).fast is None


def test_a_distillation_killed_while_writing_the_student_leaves_no_mismatched_fast_path(distilled, tmp_path,
                                                                                       monkeypatch):
    from healthtag.training import distill

    model_dir, config = distilled
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    assert read_model_config(copy).fast is not None
    real_save = distill.save_tuned_layers

    def killed_at_the_model_file(student, indices, path):
        if Path(path).parent == copy:
            raise KeyboardInterrupt("killed")
        real_save(student, indices, path)

    monkeypatch.setattr(distill, "save_tuned_layers", killed_at_the_model_file)
    with pytest.raises(KeyboardInterrupt):
        run_distill(replace(config, run_dir=str(tmp_path / "run"),   # the shared run folder's caches stay as they are
                            distill=replace(config.distill, student_seed=config.distill.seed + 7)), copy)
    assert read_model_config(copy).fast is None          # no record that would describe another student
    assert TopicSummaryModel.load(copy).runtime == "full"


def test_a_second_student_seed_keeps_the_windows_and_check_articles_but_trains_its_own_student(distilled, tmp_path):
    from safetensors.torch import load_file

    model_dir, config = distilled
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    first = read_model_config(model_dir).fast.recipe
    assert DistillConfig(seed=5).batch_seed == 5 and first["student_seed"] == config.distill.seed
    assert replace(DistillConfig(), seed=5).batch_seed == 5 and DistillConfig(seed=5, student_seed=7).batch_seed == 7
    run_distill(replace(config, distill=replace(config.distill, student_seed=config.distill.seed + 1)), copy)
    second = read_model_config(copy).fast.recipe
    assert second["student_seed"] == config.distill.seed + 1
    card = (copy / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"window sample seed {config.distill.seed}, student seed {config.distill.seed + 1}" in card
    assert second["check_articles"] == first["check_articles"] and second["windows"] == first["windows"]
    work = Path(config.run_dir) / "distill"
    assert len(list(work.glob("teacher-*"))) == 1 and len(list(work.glob("student-*.safetensors"))) == 2
    a, b = load_file(model_dir / FAST_LAYERS_FILE), load_file(copy / FAST_LAYERS_FILE)
    assert a.keys() == b.keys() and any(not torch.equal(a[k], b[k]) for k in a)


def test_a_student_with_narrowed_feed_forward_blocks_is_distilled_recorded_and_served(distilled, tmp_path):
    model_dir, config = distilled
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    run_distill(replace(config, distill=replace(config.distill, ffn_size=16)), copy)
    recipe = read_model_config(copy).fast.recipe
    assert recipe["ffn_size"] == 16 and read_model_config(model_dir).fast.recipe["ffn_size"] is None
    assert "feed-forward blocks narrowed to 16 neurons" in (copy / "MODEL_CARD.md").read_text(encoding="utf-8")
    fast = Predictor.load(copy)
    layer = fast.model.encoder.model.encoder.layer[0]
    assert layer.intermediate.dense.out_features == 16 and layer.output.dense.in_features == 16
    records = fast.predict_page(PAGE, "p")
    assert records and all(r.error is None for r in records)
    full = Predictor.load(copy, runtime="full")                  # the full path keeps its full-width layers
    assert full.model.encoder.model.encoder.layer[0].intermediate.dense.out_features == 64


def test_a_first_window_share_draws_that_share_from_first_windows_and_nothing_twice():
    from types import SimpleNamespace

    tokens = [SimpleNamespace(windows=[(0, 1)] * n) for n in (1, 2, 3, 4, 5) * 20]   # 300 windows, 100 first ones
    plain = sample_windows(tokens, [], 60, np.random.default_rng(0))
    assert plain == sample_windows(tokens, [], 60, np.random.default_rng(0), 0.0)
    assert sum(w == 0 for _, w in plain) < 40          # about a third of all windows are first windows
    leaning = sample_windows(tokens, [], 60, np.random.default_rng(0), 0.5)
    assert len(leaning) == len(set(leaning)) == 60 and sum(w == 0 for _, w in leaning) >= 30
    assert len(sample_windows(tokens, [], 1000, np.random.default_rng(0), 1.0)) == 300   # capped by the pool
    with pytest.raises(ValueError, match="first_window_share"):
        DistillConfig(first_window_share=1.5)


def test_source_weights_draw_those_sources_windows_more_often_and_nothing_twice():
    from types import SimpleNamespace

    from healthtag.training.distill import source_weight

    tokens = [SimpleNamespace(windows=[(0, 1)] * 3) for _ in range(200)]            # 600 windows
    articles = [SimpleNamespace(source="corpus:local.jsonl" if i % 4 == 0 else "inews:train") for i in range(200)]
    plain = sample_windows(tokens, articles, 100, np.random.default_rng(0))
    weighted = sample_windows(tokens, articles, 100, np.random.default_rng(0), source_weights={"corpus:local": 6.0})
    local = lambda pairs: sum(articles[a].source.startswith("corpus:local") for a, _ in pairs)   # noqa: E731
    assert len(weighted) == len(set(weighted)) == 100
    assert local(plain) < 40 < local(weighted)          # a quarter of the windows, then about two thirds
    assert source_weight("corpus:local.jsonl", {"corpus:": 2.0, "corpus:local": 5.0}) == 5.0   # longest prefix
    assert source_weight("inews:train", {"corpus:": 2.0}) == 1.0
    with pytest.raises(ValueError, match="source_weights"):
        DistillConfig(source_weights={"corpus:": 0.0})


def test_distill_config_is_checked():
    with pytest.raises(ValueError, match="layers_from"):
        DistillConfig(layers_from=[])
    with pytest.raises(ValueError, match="steps"):
        DistillConfig(steps=0)
    with pytest.raises(ValueError, match="rank_weight"):
        DistillConfig(rank_weight=-1.0)
    with pytest.raises(ValueError, match="teacher_heads"):
        DistillConfig(teacher_heads="pattern_bayes")


def test_scored_gives_predictions_and_scores_in_order(distilled):
    model_dir, _ = distilled
    predictor = Predictor.load(model_dir)
    from healthtag.inference.segment import segment_page
    from healthtag.inference.ingest import page_from_text

    arts = [a for a in segment_page(page_from_text(PAGE, "p")) if a.kind == "article"]
    preds, matrix = scored(predictor, arts, batch=2)
    assert [p.id for p in preds] == [a.id for a in arts] and matrix.shape == (len(arts), len(predictor.model.labels))
    again = list(predictor.predict_articles(arts))
    assert [p.to_dict() for p in preds] == [p.to_dict() for p in again]



def test_train_command_distils_and_validates_when_asked(tiny_config_path: Path, tmp_path: Path):
    """`healthtag train --distill`: one command gives a retrained model with a validated fast path."""
    import yaml
    from healthtag.cli import app
    from typer.testing import CliRunner

    raw = yaml.safe_load(tiny_config_path.read_text(encoding="utf-8"))
    raw["distill"] = {"layers_from": [1], "windows": 32, "steps": 10, "batch_windows": 8, "lr": 1e-3,
                      "warmup": 2, "check_articles": 4}
    config = tmp_path / "tiny-distil.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    runner = CliRunner()
    plain = runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    assert "has no fast path" in plain.output and read_model_config(tmp_path / "plain").fast is None
    res = runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "model"), "--distill"])
    assert res.exit_code == 0, res.output
    cfg = read_model_config(tmp_path / "model")
    assert cfg.fast is not None and (tmp_path / "model" / FAST_LAYERS_FILE).is_file()
    assert len(cfg.fast.validation) == 1 and "agreement on 4 held-out pool articles" in res.output
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert next(iter(cfg.fast.validation)) in card   # the card shows the validation run, not a stale one


def test_recalibrating_keeps_the_fast_path_and_drops_its_stale_validation(distilled, tiny_config_path, tmp_path):
    import yaml
    from healthtag.training.recalibrate import run as recalibrate

    model_dir, _ = distilled
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    recorded = read_model_config(copy)
    recorded.fast.validation["fast/bf16"] = {"measured": "under the old thresholds"}
    write_model_config(copy, recorded)
    raw = yaml.safe_load(tiny_config_path.read_text(encoding="utf-8"))
    raw["combination"]["rules_alone_weight"] = 0.6
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    recalibrate(load_train_config(config), copy)
    written = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    # files inside the model stay named relative to it, so the swapped-in folder reads its own files
    assert written["fast"]["encoder"]["tuned_layers"] == FAST_LAYERS_FILE and written["fast"]["validation"] == {}
    assert written["combination"]["rules_alone_weight"] == 0.6
    fast = TopicSummaryModel.load(copy, runtime="fast")
    assert fast.runtime == "fast" and fast.config.combination.rules_alone_weight == 0.6


# ------------------------------------------------------------ the fast path's gate offset

def test_distillation_measures_the_gate_offset_on_training_pool_articles_and_records_it(distilled):
    from healthtag.training.distill import pool_articles, split_pool
    from healthtag.training.student_offset import OFFSET_SEED, doc_logits, offset_articles

    model_dir, config = distilled
    cfg = read_model_config(model_dir)
    assert set(cfg.fast.doc_logit_offset) == {"non_health"}   # the gate only, by default
    how = cfg.fast.recipe["doc_logit_offset"]
    train, check = split_pool(pool_articles(config), config.distill.check_articles, config.distill.seed)
    assert how["articles"] == min(400, len(train)) and how["seed"] == OFFSET_SEED
    sample = offset_articles(train, set(cfg.fast.recipe["check_articles"]), 400, OFFSET_SEED)
    assert not {a.id for a in sample} & {a.id for a in check}   # the agreement check stays out of sample
    full = doc_logits(TopicSummaryModel.load(model_dir, runtime="full"), sample)
    fast = doc_logits(TopicSummaryModel.load(model_dir, runtime="fast"), sample)
    gate = cfg.labels.index("non_health")
    assert cfg.fast.doc_logit_offset["non_health"] == pytest.approx((full - fast)[:, gate].mean(), abs=1e-3)
    assert "Document logits shifted onto the full path's: `non_health`" in (model_dir / "MODEL_CARD.md").read_text(
        encoding="utf-8")


def test_the_offset_moves_the_fast_paths_gate_logit_and_nothing_else(distilled, tmp_path):
    from healthtag.inference.ingest import page_from_text
    from healthtag.inference.segment import segment_page

    model_dir, _ = distilled
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    cfg = read_model_config(copy)
    cfg.fast.doc_logit_offset = {}
    write_model_config(copy, cfg)
    articles = [a for a in segment_page(page_from_text(PAGE, "p")) if a.kind == "article"]
    plain_fast = TopicSummaryModel.load(copy, runtime="fast").run_network(articles)
    plain_full = TopicSummaryModel.load(copy, runtime="full").run_network(articles)
    cfg.fast.doc_logit_offset = {"non_health": 2.0}
    write_model_config(copy, cfg)
    shifted_fast = TopicSummaryModel.load(copy, runtime="fast").run_network(articles)
    shifted_full = TopicSummaryModel.load(copy, runtime="full").run_network(articles)
    gate = cfg.labels.index("non_health")
    logit = lambda p: np.log(p / (1 - p))   # noqa: E731
    assert logit(shifted_fast.doc[:, gate]) == pytest.approx(logit(plain_fast.doc[:, gate]) + 2.0, abs=1e-3)
    assert np.array_equal(np.delete(shifted_fast.doc, gate, 1), np.delete(plain_fast.doc, gate, 1))
    assert np.array_equal(shifted_full.doc, plain_full.doc)   # the full path is never corrected
    assert all(np.array_equal(a, b) for a, b in zip(shifted_fast.sentence, plain_fast.sentence))


def test_mean_offset_names_its_labels():
    from healthtag.training.student_offset import mean_offset

    full, fast = np.array([[1.0, 0.0], [3.0, 2.0]]), np.array([[0.0, 0.5], [2.0, 0.5]])
    assert mean_offset(full, fast, ["tcm", "non_health"], "non_health") == {"non_health": 0.5}
    assert mean_offset(full, fast, ["tcm", "non_health"], "all") == {"tcm": 1.0, "non_health": 0.5}
    with pytest.raises(ValueError):
        mean_offset(full, fast, ["tcm", "non_health"], "topics")


def test_a_fast_path_capped_at_one_window_reads_no_further_and_never_abstracts_unread_sentences(distilled, tmp_path):
    from healthtag.inference.ingest import page_from_text
    from healthtag.inference.segment import segment_page

    model_dir, _ = distilled
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    cfg = read_model_config(copy)
    cfg.fast.encoder = replace(cfg.fast.encoder, max_windows=1)
    write_model_config(copy, cfg)
    capped, full = TopicSummaryModel.load(copy, runtime="fast"), TopicSummaryModel.load(copy, runtime="full")
    articles = [a for a in segment_page(page_from_text(PAGE, "p")) if a.kind == "article"]
    long = max(articles, key=lambda a: len(full.tokenize(a.title, a.sentences).windows))
    assert len(full.tokenize(long.title, long.sentences).windows) > 1        # the fixture's window is small
    tokens = capped.tokenize(long.title, long.sentences)
    assert len(tokens.windows) == 1
    unread = [k for k in range(len(long.sentences)) if k + 1 not in set(tokens.segment_of_token)]
    assert unread
    out = capped.run_network([long])
    assert all(out.sentence[0][k] == 0.0 for k in unread)
    assert len(full.tokenize(long.title, long.sentences).windows) > 1   # the full path reads everything
    record = Predictor.load(copy).predict(long.text, long.title)
    assert record.summary and not any(long.sentences[k].strip() and long.sentences[k].strip() in record.summary
                                      for k in unread if len(long.sentences[k].strip()) > 8)


def test_measuring_an_offset_for_a_model_without_a_fast_path_is_a_clear_error(tiny_model_dir: Path, tiny_config_path):
    from healthtag.training.student_offset import run_offset

    with pytest.raises(SystemExit, match="no fast path to correct"):
        run_offset(load_train_config(tiny_config_path), tiny_model_dir, articles=[])


def test_a_student_learns_heads_trained_on_the_label_models_own_targets_when_asked(distilled, tiny_config_path,
                                                                                   tmp_path):
    """``distill.teacher_heads: label_model``: where the weak set keeps the label model's own targets apart
    (data.general_gate changed the heads'), the student's head terms read heads trained on that column."""
    from datasets import load_from_disk
    from healthtag.training.build_weak_dataset import LABEL_MODEL_TARGETS
    from healthtag.training.teacher_heads import label_model_heads
    from safetensors.torch import load_file

    model_dir, config = distilled
    tiny_run = Path(load_train_config(tiny_config_path).run_dir)
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    weak = load_from_disk(str(tiny_run / "weak" / "dataset"))
    gate = json.loads((tiny_run / "weak" / "label_names.json").read_text(encoding="utf-8")).index("non_health")
    # label-model targets that disagree with the heads' on the gate everywhere, so the two sets of heads must differ
    flipped = [[1.0 - v if j == gate else v for j, v in enumerate(row)] for row in weak["soft_labels"]]
    shutil.rmtree(run / "weak" / "dataset")
    weak.add_column(LABEL_MODEL_TARGETS, flipped).save_to_disk(str(run / "weak" / "dataset"))
    asked = replace(config, run_dir=str(run), distill=replace(config.distill, teacher_heads="label_model"))
    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    students = set((run / "distill").glob("student-*.safetensors"))
    run_distill(asked, copy)

    recipe = read_model_config(copy).fast.recipe
    assert recipe["teacher_heads"] == "label_model" and read_model_config(model_dir).fast.recipe["teacher_heads"] == "model"
    assert "trained on the label model's own targets" in (copy / "MODEL_CARD.md").read_text(encoding="utf-8")
    stored = list((run / "distill").glob("heads-label_model-*.safetensors"))
    assert len(stored) == 1 and len(set((run / "distill").glob("student-*.safetensors")) - students) == 1
    shipped = TopicSummaryModel.load(copy, runtime="full").heads
    teacher = MultiTaskHeads(shipped.hidden, shipped.n_outputs, shipped.head_hidden)
    teacher.load_state_dict(load_file(str(stored[0])))
    probe = torch.randn(16, shipped.hidden)
    assert not torch.allclose(teacher.eval().doc_logits(probe)[:, gate], shipped.eval().doc_logits(probe)[:, gate])
    own = load_file(model_dir / FAST_LAYERS_FILE)      # same windows and seeds, the model's own heads
    other = load_file(copy / FAST_LAYERS_FILE)
    assert own.keys() == other.keys() and any(not torch.equal(own[k], other[k]) for k in own)
    # a rerun reuses both the teacher heads and the student: the same layers, no new file
    again = tmp_path / "m2"
    shutil.copytree(model_dir, again)
    run_distill(asked, again)
    assert len(list((run / "distill").glob("heads-label_model-*.safetensors"))) == 1
    assert len(set((run / "distill").glob("student-*.safetensors")) - students) == 1
    assert all(torch.equal(other[k], v) for k, v in load_file(again / FAST_LAYERS_FILE).items())
    # where no separate column exists the model's heads already learn the label model's targets
    heads, key = label_model_heads(replace(config, run_dir=str(tiny_run)), shipped, "fingerprint")
    assert heads is shipped and key == "model"
    # and a run folder without a weak set is a clear error, not a silent fallback
    with pytest.raises(SystemExit, match="no weak dataset"):
        label_model_heads(replace(config, run_dir=str(tmp_path / "empty")), shipped, "fingerprint")


def test_a_check_on_a_cpu_with_other_vector_flags_keeps_the_first_cpus_record():
    from healthtag.training.fast_check import record_key

    zen4 = "AMD EPYC, 2 cores, flags: avx2 fma avx512f avx512_vnni avx512_bf16"
    zen3 = "AMD EPYC, 2 cores, flags: avx2 fma"
    assert record_key({}, "fast/fp32", zen3) == "fast/fp32"
    assert record_key({"fast/fp32": {"cpu": zen4}}, "fast/fp32", zen4) == "fast/fp32"   # same CPU: replaced
    assert record_key({"fast/fp32": {"cpu": zen4}}, "fast/fp32", zen3) == "fast/fp32 on avx2 fma"
    assert record_key({"fast/fp32": {"cpu": zen4}}, "fast/int8", zen3) == "fast/int8"
