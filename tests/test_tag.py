"""`Predictor` and `healthtag tag`: the output contract and hostile input (N articles in, N records out)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from healthtag import Predictor
from healthtag.inference.cli import app

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
runner = CliRunner()
ARTICLE = "市中心医院组织专家团队走进安山乡开展义诊活动，为群众免费测量血压、血糖。活动共服务村民300余人次。"


@pytest.fixture(scope="module")
def predictor(tiny_model_dir) -> Predictor:
    return Predictor.load(tiny_model_dir, batch_size=4)


@pytest.fixture(scope="module")
def rules() -> Predictor:
    return Predictor.load(rules_only=True)


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def tag(tmp_path: Path, model: Path, *args: str) -> tuple[list[dict], object]:
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["tag", *args, "-o", str(out), "--model", str(model)])
    return (records(out) if out.exists() else []), res


def test_predict_contract(predictor, rules):
    for p in (predictor, rules):
        rec = p.predict(ARTICLE, title="义诊进乡村").to_dict()
        assert set(rec) >= {"id", "source", "title", "health", "labels", "summary", "rule_hits", "error",
                            "keyphrases", "disagreement"}
        assert rec["error"] is None and isinstance(rec["health"], bool)
        if rec["health"]:
            assert rec["summary"] and rec["summary"] in ARTICLE.replace("，", ",") or rec["summary"] in ARTICLE
        for t in rec["labels"]:
            assert set(t) == {"id", "name", "score"} and 0 <= t["score"] <= 1
    assert rules.predict(ARTICLE).labels[0].id == "outreach_clinic"


def test_predict_page_and_many_keep_order(predictor):
    page = (SEEDS / "003_a98c0e2f6a5c2cb4.txt").read_text(encoding="utf-8")
    preds = predictor.predict_page(page, source="003")
    assert [p.id for p in preds] == [f"003#{i}" for i in (1, 2, 4, 5, 6, 7)]
    items = [ARTICLE, {"id": "x", "text": ARTICLE}, {"id": "no-text"}, "   "]
    out = list(predictor.predict_many(items, batch_size=2))
    assert [p.id for p in out] == ["item-0", "x", "no-text", "item-3"]
    assert out[2].error and "text" in out[2].error and out[3].error and "empty" in out[3].error
    assert out[0].error is None and out[1].error is None


def test_tag_seed_pages_one_record_per_article(tmp_path, tiny_model_dir):
    recs, res = tag(tmp_path, tiny_model_dir, str(SEEDS))
    assert res.exit_code == 0, res.output
    assert len(recs) == 24 and len({r["id"] for r in recs}) == 24
    assert all(r["error"] is None for r in recs)


def test_tag_csv(tmp_path, tiny_model_dir):
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["tag", str(SEEDS / "003_a98c0e2f6a5c2cb4.txt"), "--format", "csv", "-o", str(out),
                              "--model", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 6 and rows[0]["id"] == "003_a98c0e2f6a5c2cb4#1"


def test_hostile_inputs_every_article_accounted_for(tmp_path, tiny_model_dir):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a_empty.txt").write_bytes(b"")
    (d / "b_blank.txt").write_text("   \n\n\t\n", encoding="utf-8")
    (d / "c_binary.txt").write_bytes(bytes(range(256)) * 8)
    (d / "d_gb18030.txt").write_bytes(("县医院开展义诊\n\n" + ARTICLE).encode("gb18030"))
    (d / "e_english.txt").write_text("The city council met on Monday to discuss the new budget.\n", encoding="utf-8")
    english = "The city council met on Monday to discuss the new budget. It approved funds for roads and parks."
    (d / "f_huge.jsonl").write_text(json.dumps({"id": "huge", "text": ARTICLE * 4000}, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    lines = [json.dumps({"id": "ok1", "text": ARTICLE}, ensure_ascii=False), "{broken json",
             json.dumps({"id": "notext", "title": "x"}), json.dumps({"id": "ok1", "text": ARTICLE}, ensure_ascii=False),
             json.dumps({"id": "en", "text": english})]
    (d / "g_articles.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    recs, res = tag(tmp_path, tiny_model_dir, str(d))
    assert res.exit_code == 0, res.output
    by_source: dict[str, list[dict]] = {}
    for r in recs:
        by_source.setdefault(Path(r["source"].split(":")[0]).name, []).append(r)
    assert by_source["c_binary.txt"][0]["error"] and "c_binary.txt" in by_source["c_binary.txt"][0]["error"]
    assert by_source["d_gb18030.txt"][0]["error"] is None
    assert len(by_source["e_english.txt"]) == 1        # a one-line English page: accounted for
    en = [r for r in recs if r["id"] == "en"][0]
    assert en["error"] is None and en["health"] is False and en["labels"] == []
    huge = [r for r in recs if r["id"] == "huge"][0]
    assert huge["error"] is None and huge["summary"]
    jsonl = [r for r in recs if "g_articles" in r["source"]]
    assert [r["id"] for r in jsonl][0] == "ok1" and len(jsonl) == 5
    assert sum(1 for r in jsonl if r["id"] == "ok1" and r["error"] is None) == 2   # duplicate ids both kept
    broken = [r for r in jsonl if r["error"]]
    assert len(broken) == 2 and any("g_articles.jsonl:2" in r["error"] for r in broken)
    assert any("g_articles.jsonl:3" in r["error"] for r in broken)
    for name in ("a_empty.txt", "b_blank.txt"):       # no article in them: one error record each
        assert all(r["error"] for r in by_source.get(name, [])), name


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file_in_folder(tmp_path, tiny_model_dir):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl").write_text(json.dumps({"id": "ok", "text": ARTICLE}, ensure_ascii=False) + "\n")
    locked = d / "b.txt"
    locked.write_text(ARTICLE)
    locked.chmod(0)
    recs, res = tag(tmp_path, tiny_model_dir, str(d))
    assert res.exit_code == 0 and len(recs) == 2 and recs[1]["error"]


def test_interrupted_run_then_resume(tmp_path, tiny_model_dir):
    full, res = tag(tmp_path / "full", tiny_model_dir, str(SEEDS))
    out = tmp_path / "out.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in full[:11]]
    out.write_text("\n".join(lines[:10]) + "\n" + lines[10][:25], encoding="utf-8")   # torn last line
    res = runner.invoke(app, ["tag", str(SEEDS), "-o", str(out), "--model", str(tiny_model_dir), "--resume"])
    assert res.exit_code == 0, res.output
    resumed = records(out)
    assert [r["id"] for r in resumed] == [r["id"] for r in full]


def test_usage_errors_exit_nonzero(tmp_path):
    res = runner.invoke(app, ["tag", str(SEEDS), "--format", "xml"])
    assert res.exit_code != 0
    res = runner.invoke(app, ["tag", str(SEEDS), "--model", str(tmp_path / "missing"), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "cannot load the model" in res.output


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=0, max_size=300))
def test_fuzz_predict_never_raises(rules, text):
    rec = rules.predict(text).to_dict()
    assert rec["error"] is None or "empty" in rec["error"]
    if rec["summary"]:
        assert rec["summary"] in rules.predict(text).summary


def test_evaluate_command_prints_side_by_side(tmp_path, tiny_model_dir):
    gold = ROOT / "tests" / "fixtures" / "gold_labels_small.jsonl"
    out = tmp_path / "eval.json"
    res = runner.invoke(app, ["evaluate", "--gold", str(gold), "--model", str(tiny_model_dir), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "weighted vote" in res.output and "network alone" in res.output and "textrank" in res.output
    assert "cross-validated" in res.output          # the tiny model was calibrated on this very file
    result = json.loads(out.read_text())
    assert set(result["summaries"]) == {"lead_n", "textrank", "model"}


def test_train_and_bench_commands_check_their_inputs(tmp_path):
    res = runner.invoke(app, ["train", "--config", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2
    res = runner.invoke(app, ["bench", "--corpus", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2


def test_csv_resume_appends_without_second_header(tmp_path, tiny_model_dir):
    page = str(SEEDS / "003_a98c0e2f6a5c2cb4.txt")
    out = tmp_path / "out.csv"
    runner.invoke(app, ["tag", page, "--format", "csv", "-o", str(out), "--model", str(tiny_model_dir)])
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:4]), encoding="utf-8")           # header + 3 rows survived
    res = runner.invoke(app, ["tag", page, "--format", "csv", "-o", str(out), "--model", str(tiny_model_dir),
                              "--resume"])
    assert res.exit_code == 0, res.output
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == [f"003_a98c0e2f6a5c2cb4#{i}" for i in (1, 2, 4, 5, 6, 7)]
