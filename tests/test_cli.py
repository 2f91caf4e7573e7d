"""Tests of cli."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import ARTICLE, records
from typer.testing import CliRunner

from healthtag.cli import app

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED = SEEDS / "003_a98c0e2f6a5c2cb4.txt"
runner = CliRunner()






def test_weak_label_command_on_a_seed_page():
    res = runner.invoke(app, ["weak-label", str(ROOT / "seeds" / "003_a98c0e2f6a5c2cb4.txt")])
    assert res.exit_code == 0, res.output
    recs = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(recs) == 6  # articles only: the 市州连线 column header is a fragment
    blood = next(r for r in recs if r["title"] == "昔日绝境还生 今朝爱心献血")
    assert blood["health"] and blood["labels"][0]["id"] == "blood_donation"
    assert "无偿献血" in blood["rule_hits"]["blood_donation"]
    assert any(r["rule"] == "blood_core" for r in blood["rules"])


def _gold_fixture(tmp_path: Path) -> Path:
    recs = [
        {"id": "g1", "title": "市医院专家走进社区开展义诊", "text": "市医院专家走进社区开展义诊，送医下乡，为群众测量血压。", "labels": ["outreach_clinic"]},
        {"id": "g2", "title": "供电所保障园区用电", "text": "供电公司工作人员检修线路，保障园区用电。", "labels": ["non_health"]},
        {"id": "g3", "title": "无偿献血温暖人心", "text": "市民踊跃参加无偿献血，血站工作人员耐心服务献血者。", "labels": ["blood_donation"]},
    ]
    p = tmp_path / "gold.jsonl"
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    return p


def test_evaluate_rules_only_prints_both_aggregators(tmp_path: Path):
    gold = _gold_fixture(tmp_path)
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["evaluate", "--gold", str(gold), "--rules-only", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "weighted vote" in res.stdout and "label model" in res.stdout and "better on micro-F1" in res.stdout
    rep = json.loads(out.read_text())["topics"]
    assert 0.0 <= rep["rules"]["micro_f1"] <= 1.0
    assert rep["weighted_vote"]["non_health_accuracy"] == 1.0
    assert rep["weighted_vote"]["micro_f1"] == 1.0


def test_evaluate_never_writes_its_report_over_an_input(tmp_path: Path):
    gold = _gold_fixture(tmp_path)
    before = gold.read_bytes()
    res = runner.invoke(app, ["evaluate", "--gold", str(gold), "--rules-only", "--json", str(gold)])
    assert res.exit_code == 2 and "is also an input" in res.output
    assert gold.read_bytes() == before
    res = runner.invoke(app, ["evaluate", "--gold", str(gold), "--rules-only", "--json", str(tmp_path)])
    assert res.exit_code == 2 and "is a folder" in res.output


def test_evaluate_with_missing_model_is_a_usage_error(tmp_path: Path):
    res = runner.invoke(app, ["evaluate", "--gold", str(_gold_fixture(tmp_path)), "--model", str(tmp_path / "none")])
    assert res.exit_code == 2 and "--model" in res.output


def test_rules_report_with_gold_shows_precision(tmp_path: Path):
    res = runner.invoke(app, ["rules-report", "--gold", str(_gold_fixture(tmp_path))])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stdout.splitlines() if x.startswith("blood_core"))
    assert "100.0%" in line
    assert "label coverage" in res.stdout








def tag(tmp_path: Path, model: Path, *args: str) -> tuple[list[dict], object]:
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["tag", *args, "-o", str(out), "--model", str(model)])
    return (records(out) if out.exists() else []), res


def test_tag_seed_pages_one_record_per_article(tmp_path, tiny_model_dir):
    recs, res = tag(tmp_path, tiny_model_dir, str(SEEDS))
    assert res.exit_code == 0, res.output
    assert len(recs) == 24 and len({r["id"] for r in recs}) == 24
    assert all(r["error"] is None for r in recs)


def test_tag_precision_runs_the_requested_arithmetic_and_refuses_nonsense(tmp_path, tiny_model_dir):
    page = str(SEEDS / "003_a98c0e2f6a5c2cb4.txt")
    int8, res = tag(tmp_path / "int8", tiny_model_dir, page, "--precision", "int8")
    assert res.exit_code == 0, res.output
    assert "encoder runs in int8, as requested; not validated for this model" in res.stderr
    fp32, _ = tag(tmp_path / "fp32", tiny_model_dir, page, "--precision", "fp32")
    assert [r["id"] for r in int8] == [r["id"] for r in fp32] and all(r["error"] is None for r in int8)
    _, bad = tag(tmp_path / "bad", tiny_model_dir, page, "--precision", "int4")
    assert bad.exit_code == 2 and "--precision must be one of bf16, fp32, int8" in bad.stderr
    res = runner.invoke(app, ["tag", page, "--rules-only", "--precision", "int8"])
    assert res.exit_code == 2 and "--rules-only runs no encoder" in res.stderr


def test_tag_csv(tmp_path, tiny_model_dir):
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["tag", str(SEEDS / "003_a98c0e2f6a5c2cb4.txt"), "--format", "csv", "-o", str(out),
                              "--model", str(tiny_model_dir)])
    assert res.exit_code == 0, res.output
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
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
    assert res.exit_code == 3, res.output          # some inputs were unreadable or empty: every record still written
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
    assert res.exit_code == 3 and len(recs) == 2 and recs[1]["error"]


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


def test_evaluate_command_prints_side_by_side(tmp_path, tiny_model_dir):
    gold = ROOT / "tests" / "fixtures" / "gold_labels_small.jsonl"
    out = tmp_path / "eval.json"
    res = runner.invoke(app, ["evaluate", "--gold", str(gold), "--model", str(tiny_model_dir), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "weighted vote" in res.output and "network alone" in res.output and "textrank" in res.output
    assert "cross-validated" in res.output          # the tiny model was calibrated on this very file
    result = json.loads(out.read_text())
    assert set(result["summaries"]) == {"lead_n", "textrank", "model"}
    low, high = result["margin_bootstrap"]["micro_f1"]
    margin = result["topics"]["model"]["micro_f1"] - result["topics"]["rules"]["micro_f1"]
    assert low <= margin + 1e-4 and margin - 1e-4 <= high    # the interval is around the printed margin
    assert "paired bootstrap" in res.output


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

    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["id"] for r in rows] == [f"003_a98c0e2f6a5c2cb4#{i}" for i in (1, 2, 4, 5, 6, 7)]








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
    assert res.exit_code == 3
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


def test_evaluate_prints_segmentation_and_topic_figures_of_labelled_page_gold(tmp_path: Path):
    report = tmp_path / "report.json"
    res = runner.invoke(
        app,
        ["evaluate", "--gold", str(ROOT / "tests/fixtures/gold_seeds.jsonl"), "--pages", str(ROOT / "seeds"),
         "--rules-only", "--json", str(report)],
    )
    assert res.exit_code == 0, res.output
    assert "precision" in res.stdout and "recall" in res.stdout
    assert "topics of the labelled page articles" in res.stdout
    written = json.loads(report.read_text())
    seg = written["segmentation"]
    assert seg["gold_articles"] == 24 and seg["precision"] >= 0.9 and seg["recall"] >= 0.9
    assert 0.3 < written["topics"]["rules"]["micro_f1"] <= 1.0     # the seed articles' labels were read and scored


def test_evaluate_of_unlabelled_page_gold_is_segmentation_only(tmp_path: Path):
    gold = tmp_path / "spans.jsonl"
    rows = [json.loads(line) for line in (ROOT / "tests/fixtures/gold_seeds.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    gold.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "labels"}, ensure_ascii=False) + "\n"
                            for r in rows), encoding="utf-8")
    report = tmp_path / "report.json"
    res = runner.invoke(app, ["evaluate", "--gold", str(gold), "--pages", str(ROOT / "seeds"), "--rules-only",
                              "--json", str(report)])
    assert res.exit_code == 0, res.output
    assert "topics of the labelled page articles" not in res.stdout
    written = json.loads(report.read_text())
    assert "segmentation" in written and "topics" not in written


def test_evaluate_rejects_missing_gold_file(tmp_path: Path):
    res = runner.invoke(app, ["evaluate", "--gold", str(tmp_path / "none.jsonl")])
    assert res.exit_code != 0


def test_console_script_runs_as_module():
    res = subprocess.run([sys.executable, "-m", "healthtag", "segment", str(SEED)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert len(lines(res.stdout)) == 7


# ---------------------------------------------------------------- data safety of `tag` (one test per hazard)


def rules_tag(*args: str, input: bytes | None = None):
    return runner.invoke(app, ["tag", "--rules-only", *args], input=input)


def jsonl_file(path: Path, n: int = 5) -> Path:
    path.write_text("".join(json.dumps({"id": f"j{i}", "text": ARTICLE}, ensure_ascii=False) + "\n"
                            for i in range(n)), encoding="utf-8")
    return path


def test_output_equal_to_an_input_is_refused_and_the_input_kept(tmp_path):
    src = jsonl_file(tmp_path / "in.jsonl")
    before = src.read_bytes()
    res = rules_tag(str(src), "-o", str(src))
    assert res.exit_code == 2 and "also an input" in res.output
    assert src.read_bytes() == before
    page = tmp_path / "p.txt"
    page.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    res = rules_tag(str(page), "-o", str(page))
    assert res.exit_code == 2 and page.read_text(encoding="utf-8") == SEED.read_text(encoding="utf-8")


def test_bad_out_is_reported_before_the_model_loads(tmp_path):
    res = runner.invoke(app, ["tag", str(SEED), "-o", str(tmp_path), "--model", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "is a folder" in res.output and "model" not in res.output
    res = runner.invoke(app, ["tag", str(SEED), "-o", "/dev/full", "--model", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a regular file" in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_poison_lines_cost_only_themselves(tmp_path):
    good = json.dumps({"id": "ok", "text": ARTICLE}, ensure_ascii=False).encode()
    lines = [good.replace(b'"ok"', b'"ok1"'),
             b'{"id": "deep", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
             b'{"id": "sur", "text": "\\ud800 broken"}',
             b'{"id": "nul", "text": "a\x00b"}',
             good.replace(b'"ok"', b'"bad"').replace("义诊".encode(), b"\xff\xfe", 1),
             good.replace(b'"ok"', b'"ok2"')]
    src = tmp_path / "poison.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "o.jsonl"
    res = rules_tag(str(src), "-o", str(out))
    assert res.exit_code == 3, res.output
    recs = records(out)
    assert len(recs) == 6
    by_line = {r["id"]: r for r in recs}
    assert by_line["ok1"]["error"] is None and by_line["ok2"]["error"] is None
    errors = [r["error"] for r in recs if r["error"]]
    assert any(":2: JSON nested too deeply" in e for e in errors)
    assert any(":3: field 'text' holds a lone surrogate" in e for e in errors)
    assert any(":4: invalid JSON" in e for e in errors)
    assert any(":5: bytes not valid UTF-8 at byte offset" in e for e in errors)
    offset = int(next(e for e in errors if ":5:" in e).rsplit(" ", 1)[1])
    assert src.read_bytes()[offset:offset + 2] == b"\xff\xfe"          # the offset is the bad byte's
    res = rules_tag(str(src), "-o", str(out), "--resume")              # and resume does not die on them
    assert res.exit_code == 3 and len(records(out)) == 6


def test_a_bad_byte_in_a_page_costs_only_its_article(tmp_path):
    page = SEED.read_bytes()
    pos = page.index("邵阳市卫健系统".encode())
    broken = tmp_path / "p.txt"
    broken.write_bytes(page[:pos] + b"\xff" + page[pos:])
    out = tmp_path / "o.jsonl"
    res = rules_tag(str(broken), "-o", str(out))
    assert res.exit_code == 0, res.output
    recs = records(out)
    assert len(recs) == 6 and all(r["error"] is None for r in recs)
    flagged = [r for r in recs if r["warnings"]]
    assert len(flagged) == 1 and f"byte offset {pos}" in flagged[0]["warnings"][0]
    line = page[:pos].count(b"\n") + 1
    assert f"p.txt:{line}:" in flagged[0]["warnings"][0]


def test_fifo_and_folder_hazards_become_records(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    jsonl_file(d / "sub" / "a.jsonl", 2)
    os.mkfifo(d / "f.txt")
    (d / "loop").symlink_to(d, target_is_directory=True)
    (d / "dangling.txt").symlink_to(tmp_path / "missing.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    jsonl_file(outside / "b.jsonl", 1)
    (d / "linked").symlink_to(outside, target_is_directory=True)
    (d / "notes.md").write_text("not an input", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    import subprocess as sp

    proc = sp.run([sys.executable, "-m", "healthtag", "tag", "--rules-only", str(d), "-o", str(out)],
                  capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    recs = records(out)
    errors = [r["error"] for r in recs if r["error"]]
    assert any("f.txt: a FIFO; not read" in e for e in errors)
    assert any("loop" in e and "symbolic link loop" in e for e in errors)
    assert any("dangling.txt: broken or looping symbolic link" in e for e in errors)
    assert sum(1 for r in recs if r["error"] is None) == 3              # a.jsonl (2) + the linked folder's b.jsonl
    assert "skipped 1 file(s)" in proc.stderr and "notes.md" in proc.stderr
    res = rules_tag(str(d / "f.txt"), "-o", str(tmp_path / "o2.jsonl"))
    assert res.exit_code == 3 and "FIFO" in records(tmp_path / "o2.jsonl")[0]["error"]


def test_resume_keys_do_not_depend_on_how_a_path_is_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    jsonl_file(tmp_path / "a.jsonl", 3)
    (tmp_path / "a.jsonl").write_text((tmp_path / "a.jsonl").read_text(encoding="utf-8") + "{broken\n",
                                      encoding="utf-8")
    rules_tag("a.jsonl", "missing.txt", "-o", "o.jsonl")
    res = rules_tag(str(tmp_path / "a.jsonl"), str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o.jsonl"),
                    "--resume")
    assert res.exit_code == 3
    ids = [r["id"] for r in records(tmp_path / "o.jsonl")]
    assert len(ids) == 5 and len(set(ids)) == 5, ids


def test_format_follows_the_extension_and_resume_refuses_another(tmp_path):
    out = tmp_path / "x.csv"
    assert rules_tag(str(SEED), "-o", str(out)).exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfid,source,")
    res = rules_tag(str(SEED), "-o", str(out), "--format", "jsonl")
    assert res.exit_code == 2 and "conflicts" in res.output
    j = tmp_path / "x.out"
    assert rules_tag(str(SEED), "-o", str(j)).exit_code == 0
    res = rules_tag(str(SEED), "-o", str(j), "--format", "csv", "--resume")
    assert res.exit_code == 2 and "holds jsonl records" in res.output
    assert all(line.startswith("{") for line in j.read_text(encoding="utf-8").splitlines())


def test_segment_output_tags_exactly_as_its_page(tmp_path, tiny_model_dir):
    spans = tmp_path / "spans.jsonl"
    assert runner.invoke(app, ["segment", str(SEEDS), "-o", str(spans)]).exit_code == 0
    via_segment, via_page = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for src, out in ((spans, via_segment), (SEEDS, via_page)):
        res = runner.invoke(app, ["tag", str(src), "-o", str(out), "--model", str(tiny_model_dir)])
        assert res.exit_code == 0, res.output
    assert records(via_segment) == records(via_page)
    assert len(records(via_page)) == 24


def test_exit_codes_for_missing_and_empty_inputs(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    assert rules_tag(str(SEED)).exit_code == 0
    assert rules_tag(str(tmp_path / "typo.txt")).exit_code == 3
    assert rules_tag(str(tmp_path / "empty.txt"), str(SEED)).exit_code == 3


def test_a_model_whose_encoder_cannot_load_is_exit_2_in_one_line(tmp_path, tiny_model_dir):
    import shutil

    broken = tmp_path / "m"
    shutil.copytree(tiny_model_dir, broken)
    config = json.loads((broken / "config.json").read_text(encoding="utf-8"))
    config["encoder"]["spec"] = str(tmp_path / "no-encoder-here")
    (broken / "config.json").write_text(json.dumps(config), encoding="utf-8")
    res = runner.invoke(app, ["tag", str(SEED), "--model", str(broken)])
    assert res.exit_code == 2 and "cannot load the model" in res.output
    assert "Traceback" not in res.output


def test_version_quiet_and_verbose():
    from healthtag import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output
    res = runner.invoke(app, ["-q", "tag", "--rules-only", "/no/such/file.txt"])
    assert res.exit_code == 3 and "warning:" not in res.output
    res = runner.invoke(app, ["tag", "--rules-only", "/no/such/file.txt"])
    assert "warning: /no/such/file.txt: no such file or folder" in res.output
