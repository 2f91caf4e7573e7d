"""Tests of training.preflight: every entry point stops at once, in one sentence, when an input is missing."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import FIXTURES, ROOT
from typer.testing import CliRunner

from healthtag.cli import app

runner = CliRunner()


@pytest.mark.parametrize("module, args, expected", [
    ("train", ["--config", str(ROOT / "configs" / "default.yaml")], "calibration gold"),
    ("evaluate", ["--gold", "../shared/gold/dev.jsonl"], "gold file"),
    ("build_vocab", ["--out", "v.json", "--corpus", "../shared/corpus/health_news.jsonl"], "unlabeled corpus"),
    ("build_weak_dataset", ["--corpus", "../shared/corpus/health_news.jsonl", "--out", "w"], "unlabeled corpus"),
    ("bench_tag", ["--corpus", "../shared/corpus/health_news.jsonl"], "unlabeled corpus"),
    ("bench_precision", ["--corpus", "../shared/corpus/health_news.jsonl"], "unlabeled corpus"),
    ("bench_encoder", ["--corpus", "../shared/corpus/health_news.jsonl"], "unlabeled corpus"),
])
def test_scripts_fail_fast_without_shared(tmp_path: Path, module: str, args: list[str], expected: str):
    work = tmp_path / "a" / "b"                   # ../shared does not exist from here
    work.mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", f"healthtag.training.{module}", *args], cwd=work,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and expected in last, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not any(work.iterdir())                # no degraded artifact left behind


def test_train_command_reports_missing_data_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["train", "--config", str(ROOT / "configs" / "default.yaml")])
    assert res.exit_code == 2 and res.output.startswith("error: ") and "calibration gold" in res.output


def test_rules_report_accepts_every_gold_format_the_project_ships():
    for gold in (FIXTURES / "gold_seeds.jsonl", FIXTURES / "gold_labels_small.jsonl"):
        res = runner.invoke(app, ["rules-report", "--gold", str(gold)])
        assert res.exit_code == 0, res.output
        assert "rules (label model fitted on these articles)" in res.output
