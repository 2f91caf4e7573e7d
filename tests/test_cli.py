"""The `healthtag segment` and `healthtag evaluate` commands, end to end on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from healthtag.inference.cli import app

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "003_a98c0e2f6a5c2cb4.txt"
runner = CliRunner()


def lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def test_segment_seed_page_to_file(tmp_path: Path):
    out = tmp_path / "out" / "spans.jsonl"
    res = runner.invoke(app, ["segment", str(SEED), "-o", str(out)])
    assert res.exit_code == 0, res.output
    recs = lines(out.read_text(encoding="utf-8"))
    assert [r["kind"] for r in recs] == ["article", "article", "fragment", "article", "article", "article", "article"]
    page = SEED.read_text(encoding="utf-8")
    for r in recs:
        assert set(r) >= {"source", "index", "start", "end", "kind", "title", "text"}
        assert page[r["start"] : r["end"]].strip() == page[r["start"] : r["end"]]
    assert recs[3]["title"] == "疫情防控靓丽的“志愿红”"
    assert page[recs[3]["start"] :].startswith("疫情防控靓丽的“志愿红”")
    assert [r["index"] for r in recs] == list(range(1, 8))


def test_segment_jsonl_and_bad_inputs_keep_going(tmp_path: Path):
    arts = tmp_path / "arts.jsonl"
    arts.write_text('{"id": "a1", "text": "正文一。"}\n{broken\n', encoding="utf-8")
    res = runner.invoke(app, ["segment", str(arts), str(tmp_path / "nope.txt"), str(SEED)])
    assert res.exit_code == 0
    recs = lines(res.stdout)
    assert recs[0]["id"] == "a1" and recs[0]["end"] == len("正文一。")
    assert "invalid JSON" in recs[1]["error"] and recs[1]["line"] == 2
    assert "no such file" in recs[2]["error"]
    assert len(recs) == 3 + 7


def test_segment_reads_a_page_from_stdin():
    page = "县医院专家义诊进乡村\n\n本报记者 王明\n\n5月9日，县人民医院专家团队来到安山乡卫生院开展义诊活动。\n"
    res = runner.invoke(app, ["segment", "-"], input=page.encode("gb18030"))
    assert res.exit_code == 0, res.output
    recs = lines(res.stdout)
    assert len(recs) == 1 and recs[0]["title"] == "县医院专家义诊进乡村" and recs[0]["id"] == "stdin#1"


def test_evaluate_prints_segmentation_figures(tmp_path: Path):
    report = tmp_path / "report.json"
    res = runner.invoke(
        app,
        ["evaluate", "--gold", str(ROOT / "tests/fixtures/gold_seeds.jsonl"), "--pages", str(ROOT / "seeds"), "--json", str(report)],
    )
    assert res.exit_code == 0, res.output
    assert "precision" in res.stdout and "recall" in res.stdout
    seg = json.loads(report.read_text())["segmentation"]
    assert seg["gold_articles"] == 24 and seg["precision"] >= 0.9 and seg["recall"] >= 0.9


def test_evaluate_rejects_missing_gold_file(tmp_path: Path):
    res = runner.invoke(app, ["evaluate", "--gold", str(tmp_path / "none.jsonl")])
    assert res.exit_code != 0


def test_console_script_runs_as_module():
    res = subprocess.run([sys.executable, "-m", "healthtag", "segment", str(SEED)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert len(lines(res.stdout)) == 7
