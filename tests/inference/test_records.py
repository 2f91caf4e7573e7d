"""Tests of inference.records: OUT can be neither destroyed nor corrupted, whatever happens."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from healthtag.inference.records import (
    OutputError,
    RecordWriter,
    csv_cell,
    output_format,
    refuse_input_as_output,
    sniff_format,
)


def rec(i: int, **extra) -> dict:
    base = {"id": f"a#{i}", "source": "p.txt", "title": f"标题{i}", "health": True,
            "labels": [{"id": "tcm", "name": "中医药", "score": 0.9}], "summary": "摘要。", "keyphrases": ["中医"],
            "rule_hits": {"tcm": ["中医"]}, "disagreement": [], "warnings": [], "error": None}
    base.update(extra)
    return base


def write(path: Path, records, fmt="jsonl", resume=False, **kw) -> RecordWriter:
    with RecordWriter(path, fmt, resume=resume, **kw) as w:
        for r in records:
            w.write(r)
        w.finish()
    return w


def test_format_follows_extension_and_conflicts_are_errors(tmp_path):
    assert output_format(tmp_path / "x.csv", None) == "csv"
    assert output_format(tmp_path / "x.jsonl", None) == "jsonl"
    assert output_format(tmp_path / "x.out", "csv") == "csv"
    assert output_format(None, None) == "jsonl"
    with pytest.raises(OutputError, match="conflicts"):
        output_format(tmp_path / "x.csv", "jsonl")


def test_output_equal_to_an_input_is_refused(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(OutputError, match="also an input"):
        refuse_input_as_output(src, [str(src)], (".txt", ".jsonl"))
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    with pytest.raises(OutputError, match="also an input"):
        refuse_input_as_output(link, [str(src)], (".txt", ".jsonl"))
    with pytest.raises(OutputError, match="inside the input folder"):
        refuse_input_as_output(tmp_path / "sub" / "out.jsonl", [str(tmp_path)], (".txt", ".jsonl"))
    refuse_input_as_output(tmp_path / "sub" / "out.csv", [str(tmp_path)], (".txt", ".jsonl"))   # not read back


def test_a_file_that_is_not_healthtag_output_is_never_overwritten(tmp_path):
    precious = tmp_path / "notes.jsonl"
    precious.write_text("my own notes\n", encoding="utf-8")
    with pytest.raises(OutputError, match="not healthtag output"):
        write(precious, [rec(1)])
    assert precious.read_text(encoding="utf-8") == "my own notes\n"


def test_failed_run_before_the_first_record_leaves_out_as_it_was(tmp_path):
    out = tmp_path / "o.jsonl"
    write(out, [rec(1), rec(2)])
    before = out.read_bytes()
    with pytest.raises(RuntimeError):
        with RecordWriter(out, "jsonl"):
            raise RuntimeError("the model failed to load")
    assert out.read_bytes() == before


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    out = tmp_path / "o.jsonl"
    with RecordWriter(out, "jsonl", resume=True) as first:
        first.write(rec(1))
        with pytest.raises(OutputError, match="another healthtag process"):
            RecordWriter(out, "jsonl", resume=True).__enter__()
    write(out, [rec(2)], resume=True)
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == ["a#1", "a#2"]


def test_out_a_directory_or_unwritable_is_one_clear_error(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        write(tmp_path, [rec(1)])
    with pytest.raises(OutputError, match="not a regular file"):
        write(Path("/dev/null"), [rec(1)])


def test_resume_cuts_a_torn_jsonl_tail_in_place(tmp_path):
    out = tmp_path / "o.jsonl"
    write(out, [rec(1), rec(2)])
    with out.open("ab") as fh:
        fh.write(json.dumps(rec(3)).encode()[:17])
    inode = out.stat().st_ino
    w = write(out, [rec(3)], resume=True)
    assert w.done == {"a#1": 1, "a#2": 1}
    assert out.stat().st_ino == inode                      # same file, never rewritten through a copy
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == ["a#1", "a#2", "a#3"]


def test_resume_refuses_another_format(tmp_path):
    out = tmp_path / "o.out"
    write(out, [rec(1)], fmt="jsonl")
    with pytest.raises(OutputError, match="holds jsonl records"):
        write(out, [rec(2)], fmt="csv", resume=True)
    assert sniff_format(out.read_bytes()) == "jsonl"


def test_csv_has_bom_numeric_scores_and_topic_columns(tmp_path):
    out = tmp_path / "o.csv"
    write(out, [rec(1), rec(2, labels=[], health=False)], fmt="csv", topic_ids=["tcm", "workforce"])
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))
    assert rows[0]["top_score"] == "0.9000" and float(rows[0]["tcm_score"]) == 0.9
    assert (rows[0]["tcm"], rows[0]["workforce"], rows[1]["tcm"]) == ("1", "0", "0")
    write(tmp_path / "n.csv", [rec(1)], fmt="csv", bom=False)
    assert not (tmp_path / "n.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_csv_cells_escape_control_characters_and_formulas():
    assert csv_cell("a\x00b\x1bc") == "a\\x00b\\x1bc"
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("第一行\n第二行\t列") == "第一行\n第二行\t列"


@pytest.mark.parametrize("cut", range(0, 60, 3))
def test_csv_resume_parses_records_even_when_torn_inside_a_quoted_field(tmp_path, cut):
    out = tmp_path / "o.csv"
    multi = [rec(i, summary=f"第{i}句。\n第二行，“引号”,逗号\n" + "长" * 200_000 * (i == 2)) for i in range(1, 4)]
    write(out, multi[:2], fmt="csv")
    full = out.read_bytes()
    write(out, multi[:3], fmt="csv")
    third = out.read_bytes()[len(full):]
    with out.open("r+b") as fh:                              # torn somewhere inside record 3
        fh.truncate(len(full))
        fh.seek(0, 2)
        fh.write(third[:cut + 1])
    w = write(out, [multi[2]], fmt="csv", resume=True)
    assert w.done == {"a#1": 1, "a#2": 1}
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))
    assert [r["id"] for r in rows] == ["a#1", "a#2", "a#3"]
    assert rows[1]["summary"].startswith("第2句。\n第二行") and len(rows[1]["summary"]) > 200_000


def test_a_record_that_cannot_be_serialised_becomes_an_error_record(tmp_path):
    out = tmp_path / "o.jsonl"
    write(out, [rec(1, title="\ud800 lone"), rec(2, title=object()), rec(3)])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["title"] == "\ud800 lone"           # written as a JSON escape, still valid
    assert "could not be written" in json.loads(lines[1])["error"]


def test_sigkill_during_the_resume_repair_loses_no_complete_record(tmp_path):
    """Kill the repairing process at many points: every complete record before the tear survives."""
    out = tmp_path / "o.jsonl"
    write(out, [rec(i, summary="长" * 2000) for i in range(400)])
    complete = out.read_bytes()
    with out.open("ab") as fh:
        fh.write(b'{"id": "a#400", "summ')
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from healthtag.inference.records import RecordWriter
        with RecordWriter(Path({str(out)!r}), "jsonl", resume=True) as w:
            w.finish()
            print("repaired", flush=True)
            sys.stdin.read()
    """)
    for delay in (0.0, 0.05, 0.2, 0.5):
        proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            proc.wait(timeout=delay) if delay else None
        except subprocess.TimeoutExpired:
            pass
        proc.kill()
        proc.wait()
        assert out.read_bytes()[: len(complete)] == complete   # no complete record lost, whenever it died
    assert os.path.getsize(out) in (len(complete), len(complete) + len(b'{"id": "a#400", "summ'))
