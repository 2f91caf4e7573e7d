"""Tests of inference.ingest."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from healthtag.inference.ingest import (
    IngestError,
    decode_bytes,
    iter_inputs,
    page_from_text,
    read_jsonl,
    read_page,
    split_paragraphs,
)

PAGE = "卫生院开展义诊活动\n\n本报讯(记者 王明)5月9日，县人民医院专家来到安山乡卫生院开展义诊。\n"


def test_decode_utf8_and_bom():
    assert decode_bytes(PAGE.encode("utf-8"))[0] == PAGE
    text, enc = decode_bytes(b"\xef\xbb\xbf" + PAGE.encode("utf-8"))
    assert text == PAGE and enc == "utf-8-sig"


def test_decode_gb18030_bytes(tmp_path: Path):
    raw = PAGE.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the bytes really are not UTF-8
    f = tmp_path / "gbk_page.txt"
    f.write_bytes(raw)
    page = read_page(f)
    assert page.encoding == "gb18030"
    assert page.text == PAGE
    assert page.paragraphs[0].text == "卫生院开展义诊活动"


def test_decode_gb18030_four_byte_character():
    text = "𠀀字与㐀字"  # outside GBK: GB18030 four-byte sequences
    assert decode_bytes(text.encode("gb18030"))[0] == text


def test_decode_utf16_with_bom():
    assert decode_bytes(PAGE.encode("utf-16"))[0] == PAGE


def test_crlf_and_cr_become_lf():
    text, _ = decode_bytes("第一行。\r\n第二行。\r第三行。".encode("utf-8"))
    assert text == "第一行。\n第二行。\n第三行。"


def test_binary_is_rejected_with_file_name():
    with pytest.raises(IngestError, match="photo.jpg.*binary"):
        decode_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" * 20, "photo.jpg")


def test_sentence_broken_across_blank_line_is_joined():
    text = "“现在遇到拿不准的化验结果，市中心医院的专家们很快就会给予专业解读和指导意见，有助于提升基层医疗机构服\n\n务水平。”\n\n对此，院长也深有体会。"
    paras = split_paragraphs(text)
    assert [p.text for p in paras] == [
        "“现在遇到拿不准的化验结果，市中心医院的专家们很快就会给予专业解读和指导意见，有助于提升基层医疗机构服务水平。”",
        "对此，院长也深有体会。",
    ]
    joined = paras[0]
    assert len(joined.pieces) == 2
    # offsets recover the original text of each piece
    assert "".join(text[s:e] for s, e in joined.pieces) == joined.text


def test_real_paragraph_end_is_kept():
    text = "医院召开了总结大会。\n\n会议表彰了先进个人。"
    assert len(split_paragraphs(text)) == 2


def test_short_unfinished_line_reads_as_a_heading():
    # ≤ 32 characters, at most one comma, no sentence end: the shape of a heading,
    # so it is not glued to the next line even if it was in fact cut mid-sentence
    text = "医院专家给予了指导意见，有助于提升服\n\n务水平。"
    assert len(split_paragraphs(text)) == 2


def test_line_ending_with_comma_joins_next_line():
    text = "在补短板强弱项上下功夫求突破。聚焦民生需求，\n\n加快重点项目建设。"
    assert [p.text for p in split_paragraphs(text)] == ["在补短板强弱项上下功夫求突破。聚焦民生需求，加快重点项目建设。"]


def test_broken_line_is_not_glued_to_a_heading():
    text = "社区联动各方力量开展活动，取得了不错的成效，同时社区联动中\n\n多元协同共治，夯实平安根基\n\n基层善治，贵在多元联动。"
    assert len(split_paragraphs(text)) == 3


def test_job_title_line_joins_the_name():
    text = "邵阳市卫健委党委书记\n\n黄海蓉就岁末年初全市卫健系统消防安全工作讲话，要求提高认识。"
    assert [p.text for p in split_paragraphs(text)] == ["邵阳市卫健委党委书记黄海蓉就岁末年初全市卫健系统消防安全工作讲话，要求提高认识。"]


def test_headline_is_not_joined_to_body():
    text = "打造“带不走”的医疗队\n\n5月9日，安山乡卫生院内热闹非凡。"
    assert len(split_paragraphs(text)) == 2


def test_caption_between_sentence_halves_is_displaced():
    text = "2024年，市卫健委积极推进健康邵阳建设，探索健康影响评价评估制度建\n\n正在建设中的市中医院岐黄综合大楼。\n\n设试点，推动健康融入所有政策。"
    paras = split_paragraphs(text)
    assert paras[0].text == "2024年，市卫健委积极推进健康邵阳建设，探索健康影响评价评估制度建设试点，推动健康融入所有政策。"
    assert paras[1].displaced and paras[1].text == "正在建设中的市中医院岐黄综合大楼。"


def test_repeated_paragraph_is_marked_duplicate():
    rep = "“患者术中出血量达到了4000毫升，幸亏抢救及时，才挽回了一条生命。”主刀医生说。"
    paras = split_paragraphs("\n\n".join(["手术持续了五个小时。", rep, rep, rep]))
    assert [p.duplicate for p in paras] == [False, False, True, True]


def test_short_repeated_lines_are_not_duplicates():
    paras = split_paragraphs("环境好\n\n品质好\n\n环境好")
    assert not any(p.duplicate for p in paras)


def test_paragraph_offsets_point_into_decoded_text():
    text = "\n\n  标题在这里  \n\n正文第一段。\n"
    page = page_from_text(text)
    for p in page.paragraphs:
        assert text[p.start : p.end].strip() == text[p.start : p.end]
    assert text[page.paragraphs[0].start : page.paragraphs[0].end] == "标题在这里"


def test_jsonl_records_and_errors_name_file_and_line(tmp_path: Path):
    f = tmp_path / "arts.jsonl"
    f.write_text(
        "\n".join(
            [
                json.dumps({"id": "a1", "title": "标题", "text": "正文。"}, ensure_ascii=False),
                "{not json",
                json.dumps({"id": "a3", "title": "没有正文"}, ensure_ascii=False),
                "",
                json.dumps({"id": "a5", "text": 5}),
                json.dumps({"text": "没有编号。"}, ensure_ascii=False),
                json.dumps({"id": "a7", "text": "  \n "}),
                json.dumps({"id": "a8", "title": "只有标题", "text": ""}, ensure_ascii=False),
            ]
        ),
        encoding="utf-8",
    )
    recs = list(read_jsonl(f))
    assert len(recs) == 7  # the blank line is not a record
    assert recs[0].article == {"id": "a1", "title": "标题", "text": "正文。"} and recs[0].error is None
    assert recs[1].error.startswith(f"{f}:2: invalid JSON")
    assert recs[2].error == f"{f}:3: field 'text' is missing" and recs[2].article == {"id": "a3"}
    assert recs[3].error == f"{f}:5: field 'text' is not a string"
    assert recs[4].article["id"] == f"{f}:6"
    assert recs[5].error == f"{f}:7: empty article (blank 'text' and no title)" and recs[5].article == {"id": "a7"}
    assert recs[6].error is None and recs[6].article["title"] == "只有标题"   # a headline alone is still taggable


def test_folders_are_read_recursively_in_sorted_order(tmp_path: Path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text("乙。", encoding="utf-8")
    (tmp_path / "a.txt").write_text("甲。", encoding="utf-8")
    (tmp_path / "c.jsonl").write_text('{"id": "x", "text": "丙。"}\n', encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    recs = list(iter_inputs([str(tmp_path), str(tmp_path / "missing.txt")]))
    assert [Path(r.source).name for r in recs] == ["a.txt", "2.txt", "c.jsonl", "missing.txt"]
    assert recs[-1].error.endswith("no such file or folder")
