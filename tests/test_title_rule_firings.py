"""scripts/title_rule_firings.py: generic-only title firings are counted, bad lines named, not fatal."""
from __future__ import annotations

import json

import pytest

from support import load_script

firings = load_script("title_rule_firings")


def test_generic_only_titles_are_told_apart_and_a_bad_line_is_named(tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    rows = [{"id": "a", "title": "我的子宫肌瘤需要手术吗？", "text": "正文。"},           # 手术 alone
            {"id": "b", "title": "市人民医院成功实施首例机器人手术", "text": "正文。"},   # 首例 too: not generic-only
            {"id": "c", "title": "春季养生小贴士", "text": "正文。"}]                      # does not fire
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:2]) + "\n{broken\n"
                      + json.dumps(rows[2], ensure_ascii=False) + "\n", encoding="utf-8")
    firings.main(["specialty_title", "成功", "手术", "--corpus", str(corpus), "--pattern", "实施.{0,6}手术"])
    out = capsys.readouterr().out
    assert f"{corpus}:3: invalid JSON" in out   # the shared JSONL reader's message
    assert "3 titles; specialty_title fires on 2; on ['成功', '手术'] alone: 1" in out
    assert "the narrower pattern keeps 0 of 1" in out


def test_words_outside_the_rule_are_refused():
    with pytest.raises(SystemExit, match="not terms of specialty_title"):
        firings.main(["specialty_title", "服务"])
