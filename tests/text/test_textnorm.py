"""Tests of text.textnorm."""
from __future__ import annotations

from healthtag.text.textnorm import ends_sentence, normalize_line, split_sentences


def test_fullwidth_digits_and_letters_become_ascii():
    assert normalize_line("２０２４年ＣＴ检查ｄｉｐ") == "2024年CT检查dip"


def test_chinese_punctuation_is_kept():
    line = "他说：“好！”（完）；，。"
    assert normalize_line(line) == line


def test_whitespace_runs_collapse_and_tabs_stay():
    assert normalize_line("\u3000\u3000记者  王明\u3000通讯员 李华 ") == "记者 王明 通讯员 李华"
    assert normalize_line("姓名\t性别") == "姓名\t性别"


def test_kangxi_radical_becomes_ideograph():
    assert normalize_line("\u2f26") == "子"  # KANGXI RADICAL CHILD -> 子


def test_ends_sentence():
    assert ends_sentence("完成了。")
    assert ends_sentence("他说：“好。”")
    assert not ends_sentence("打造“带不走”的医疗队")
    assert not ends_sentence("有助于提升服")


def test_sentences_split_on_terminal_punctuation():
    assert split_sentences("医院开展义诊。群众受益！效果如何？很好；继续……") == [
        "医院开展义诊。",
        "群众受益！",
        "效果如何？",
        "很好；",
        "继续……",
    ]


def test_sentences_keep_quotations_whole():
    para = "“过去一年，我们接受了帮扶。现在，遇到拿不准的结果，专家会给予指导。”副院长说。随后活动结束。"
    assert split_sentences(para) == [
        "“过去一年，我们接受了帮扶。现在，遇到拿不准的结果，专家会给予指导。”副院长说。",
        "随后活动结束。",
    ]


def test_unbalanced_quote_does_not_swallow_the_paragraph():
    para = "他说“这是一句没有结束的话。" + "后面还有很多句子。" * 60
    assert len(split_sentences(para, max_quote_chars=50)) > 30
