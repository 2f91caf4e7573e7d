"""Tests of the HTML report, the review sheet and the correction loop back into training."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from healthtag.inference.report import build_report
from healthtag.training.gold import load_gold
from support import SEEDS
from typer.testing import CliRunner

from healthtag.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def tags(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "t.jsonl"
    res = runner.invoke(app, ["-q", "tag", str(SEEDS), "--rules-only", "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def page_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.DOTALL)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_tag_records_carry_offsets_of_the_terms_that_fired(tags: Path):
    found = 0
    for rec in records(tags):
        assert set(rec["rule_spans"]) == set(rec["rule_hits"])
        for lab, spans in rec["rule_spans"].items():   # empty where the terms fired in the title only
            assert all(rec["text"][a:b] in rec["rule_hits"][lab] for a, b in spans)
            found += len(spans)
    assert found > 50


def test_report_is_self_contained_and_carries_every_article(tags: Path, tmp_path: Path):
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(tags), "-o", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)   # nothing fetched from a network
    assert "<svg" in html and "主题 × 来源" in html
    recs = records(tags)
    data = page_data(html)
    assert [r["i"] for r in data["records"]] == [r["id"] for r in recs]
    n_topics = len({lab["id"] for r in recs if r["health"] for lab in r["labels"]})
    assert html.count('class="bar"') == n_topics


def test_article_text_cannot_break_out_of_the_page():
    rec = {"id": "x#1", "source": "a.txt", "title": "t", "health": True, "labels": [], "text": "</script><b>正文</b>"}
    html = build_report([rec], {"non_health": "非健康"})
    assert html.count("</script>") == 2                    # the two scripts of the template, nothing from the text
    assert page_data(html)["records"][0]["x"] == "</script><b>正文</b>"


def test_review_sheet_round_trips_into_training_labels(tags: Path, tmp_path: Path):
    sheet = tmp_path / "review.csv"
    res = runner.invoke(app, ["review", str(tags), "-o", str(sheet), "--n", "5"])
    assert res.exit_code == 0, res.output
    raw = sheet.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert 0 < len(rows) <= 5 and all(r["why"] for r in rows)
    rows[0]["health"] = "0"                                 # the reviewer says: not health news
    rows[1]["labels"] = "tcm; party_building"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    sheet.write_text(buf.getvalue(), encoding="utf-8-sig")
    gold = load_gold(sheet)
    assert gold.labels[0] == {"non_health"} and gold.labels[1] == {"tcm", "party_building"}
    assert gold.articles[1].text == rows[1]["text"]


def test_review_refuses_to_overwrite_its_input(tags: Path):
    before = tags.read_bytes()
    res = runner.invoke(app, ["review", str(tags), "-o", str(tags)])
    assert res.exit_code != 0 and "input" in res.output
    assert tags.read_bytes() == before


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install chromium)")
def test_report_in_headless_chromium(tags: Path, tmp_path: Path):
    """Charts and list render, a topic filter changes the rows, a correction downloads as gold JSONL."""
    out = tmp_path / "r.html"
    assert runner.invoke(app, ["report", str(tags), "-o", str(out)]).exit_code == 0
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          f"{out.as_uri()}#selftest"], capture_output=True, text=True, timeout=120, check=False).stdout
    m = re.search(r'<pre id="selftest-result">(.*?)</pre>', dom, re.DOTALL)
    assert m, dom[-2000:]
    res = json.loads(m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("&quot;", '"'))
    recs = records(tags)
    assert res["rows_all"] == len(recs) and res["bars"] > 0
    expect = sum(1 for r in recs if any(lab["id"] == res["topic"] for lab in r["labels"]))
    assert res["rows_topic"] == expect < len(recs)
    assert res["marks"] > 0                                # highlighted evidence in the opened article
    corrections = tmp_path / "corrections.jsonl"
    corrections.write_text(res["corrections"], encoding="utf-8")
    gold = load_gold(corrections)
    assert gold.labels == [{"non_health"}]                 # the self-test unticked 健康类 on one article


def test_corrections_feed_back_into_training(tags: Path, tmp_path: Path, tiny_config_path: Path):
    """review sheet -> edited -> `healthtag train --labelled`: the new model says which labels it trained on."""
    sheet = tmp_path / "review.csv"
    assert runner.invoke(app, ["review", str(tags), "-o", str(sheet), "--n", "4"]).exit_code == 0
    out = tmp_path / "model"
    res = runner.invoke(app, ["train", "--config", str(tiny_config_path), "--labelled", str(sheet), "--out", str(out)])
    assert res.exit_code == 0, res.output
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert "review.csv" in json.dumps(config, ensure_ascii=False)
