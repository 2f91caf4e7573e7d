"""Tests of inference.segment."""
from __future__ import annotations

from healthtag.inference.ingest import page_from_text
from healthtag.inference.lineshape import LineKind, classify_line
from healthtag.inference.segment import resolve_headline, segment_page
from hypothesis import given, settings
from hypothesis import strategies as st
from support import assert_spans_partition

BODY1 = "5月9日，县人民医院专家团队来到安山乡卫生院，为当地群众开展义诊活动，提供健康咨询、疾病筛查和用药指导等服务。"


BODY2 = "据介绍，活动当天共接诊群众300余人次，发放健康宣传资料500余份，受到群众欢迎。"


BODY3 = "下一步，该院将继续推进优质医疗资源下沉，定期派驻专家到乡镇卫生院坐诊带教，提升基层医疗服务能力。"


def seg(text: str):
    return segment_page(page_from_text(text, source="page.txt"))


def spans(text: str) -> list[tuple[str, str]]:
    return [(a.kind, a.title) for a in seg(text)]


def test_headline_byline_body():
    arts = seg(f"县医院专家义诊进乡村\n\n本报记者 王明 通讯员 李华\n\n{BODY1}\n\n{BODY2}")
    assert len(arts) == 1
    a = arts[0]
    assert (a.kind, a.title, a.byline) == ("article", "县医院专家义诊进乡村", "本报记者 王明 通讯员 李华")
    assert a.sentences[0] == BODY1 and a.text.startswith(BODY1)
    assert a.id == "page#1"


def test_kicker_above_headline_and_dateline_byline():
    arts = seg(f"北塔卫健\n\n义诊服务送到百姓家门口\n\n本报讯(记者 王明 通讯员 李华){BODY1}\n\n{BODY2}")
    a = arts[0]
    assert (a.kicker, a.title) == ("北塔卫健", "义诊服务送到百姓家门口")
    assert a.byline == "本报讯(记者 王明 通讯员 李华)"
    assert a.text.startswith("5月9日")  # the dateline prefix is not body text


def test_dash_subheadline_and_name_byline():
    arts = seg(f"上下联动织密就医网\n\n——市人民医院推进分级诊疗惠民生\n\n徐典波 陈雨\n\n{BODY1}")
    a = arts[0]
    assert (a.title, a.subtitle, a.byline) == ("上下联动织密就医网", "市人民医院推进分级诊疗惠民生", "徐典波 陈雨")


def test_two_line_headline_is_joined():
    assert resolve_headline(["电力先行", "护航跨境电商"], []) == ("", "电力先行 护航跨境电商", "")
    assert resolve_headline(["医媒共联动 同心话未来", "市中心医院举办媒体交流座谈会"], []) == (
        "",
        "医媒共联动 同心话未来",
        "市中心医院举办媒体交流座谈会",
    )


def test_short_news_column_items_each_get_their_own_article():
    page = (
        "市州连线\n\n"
        f"汝城志愿者助力防疫\n\n本报讯 (通讯员 朱忠达) {BODY1}\n\n{BODY2}\n\n"
        f"献血屏障守护生命\n\n本报讯 (通讯员 李鑫燕) {BODY2}\n\n"
        f"医共体写好健康答卷\n\n本报讯 (通讯员 何丽英) {BODY3}"
    )
    assert spans(page) == [
        ("fragment", "市州连线"),
        ("article", "汝城志愿者助力防疫"),
        ("article", "献血屏障守护生命"),
        ("article", "医共体写好健康答卷"),
    ]


def test_section_headings_stay_inside_the_article():
    page = (
        f"让医疗服务向下扎根\n\n本报记者 王明\n\n{BODY1}\n\n"
        f"打造“带不走”的医疗队\n\n{BODY2}\n\n●建设赋能，医疗资源强保障\n\n{BODY3}"
    )
    arts = seg(page)
    assert len(arts) == 1
    assert arts[0].sections == ["打造“带不走”的医疗队", "●建设赋能，医疗资源强保障"]
    assert "打造“带不走”的医疗队" not in arts[0].sentences


def test_photo_captions_are_kept_apart_from_body():
    caption = "4月23日，肾内科主任走进桃林镇卫生院会诊。陈雨 摄"
    arts = seg(f"县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}\n\n{caption}\n\n{BODY2}")
    assert arts[0].captions == [caption]
    assert caption not in arts[0].text


def test_photo_news_with_credit_line_is_its_own_article():
    page = (
        f"县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}\n\n{BODY2}\n\n"
        f"核酸检测保“果盘子”安全\n\n{BODY3}\n\n通讯员 刘强 杨正美 摄影报道\n\n"
        f"眼科义诊进社区\n\n{BODY2}\n\n全媒体记者/李逸峰 摄"
    )
    arts = seg(page)
    assert [(a.kind, a.title) for a in arts] == [
        ("article", "县医院专家义诊进乡村"),
        ("article", "核酸检测保“果盘子”安全"),
        ("article", "眼科义诊进社区"),
    ]
    assert arts[1].byline == "通讯员 刘强 杨正美 摄影报道"


def test_ad_slogan_and_masthead_are_fragments():
    page = (
        f"邵阳日报\n\n第3版\n\n县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}\n\n{BODY2}\n\n"
        "寻中华始祖 品炎陵黄桃\n\n环境好\n\n品质好\n\n株洲日报宣"
    )
    kinds = spans(page)
    assert kinds[0][0] == "fragment" and kinds[1] == ("article", "县医院专家义诊进乡村")
    assert kinds[2] == ("fragment", "寻中华始祖 品炎陵黄桃")


def test_continuation_stub_is_a_fragment():
    page = f"(上接1版)要聚焦主责主业，在服务中心大局中找准位置，尽好责任。\n\n县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}"
    assert spans(page) == [("fragment", ""), ("article", "县医院专家义诊进乡村")]


def test_text_before_the_first_headline_is_a_fragment():
    page = f"{BODY2}\n\n县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}"
    assert [k for k, _ in spans(page)] == ["fragment", "article"]


def test_continued_to_marker_stays_in_article_but_not_in_text():
    arts = seg(f"县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}\n\n(下转2版)")
    assert len(arts) == 1 and "下转" not in arts[0].text
    assert arts[0].end == len(f"县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}\n\n(下转2版)")


def test_notice_with_signature_and_date():
    page = (
        f"县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}\n\n"
        "市委管理干部任前公示公告\n\n为了加强对干部选拔工作的监督，现对下列拟任人选进行任前公示：\n\n"
        "受理地点:市委大院一办公楼\n\n中共邵阳市委组织部\n\n2025年5月13日"
    )
    assert spans(page) == [("article", "县医院专家义诊进乡村"), ("article", "市委管理干部任前公示公告")]


def test_repeated_paragraph_is_in_the_span_once_in_the_text():
    rep = "“患者术中出血量达到了4000毫升，幸亏抢救及时，才挽回了一条生命。”主刀医生说。"
    page = f"五小时的生命保卫战\n\n本报记者 刘敏\n\n{BODY1}\n\n{rep}\n\n{rep}\n\n{rep}"
    a = seg(page)[0]
    assert a.text.count("4000毫升") == 1
    assert a.end == len(page)


def test_dateline_items_without_headlines_are_split():
    page = f"本报讯 (通讯员 甲乙) {BODY1}\n\n本报讯 (通讯员 丙丁) {BODY2}"
    arts = seg(page)
    assert [a.kind for a in arts] == ["article", "article"]
    assert arts[1].start == page.index("本报讯 (通讯员 丙丁)")


def test_empty_and_blank_pages_have_no_spans():
    assert seg("") == [] and seg(" \n\u3000\n\t\n") == []


_pieces = st.sampled_from(
    [
        "县医院专家义诊进乡村", "本报讯(记者 王明)", "本报记者 王明 通讯员 李华", "——市医院推进分级诊疗",
        "徐典波 陈雨", "通讯员 刘强 摄影报道", "(李曼云)", "(上接1版)", "(下转2版)", "市州连线", "第3版",
        "●建设赋能，医疗资源强保障", "2025年5月13日", "中共邵阳市委组织部", "环境好", "陈雨 摄",
        BODY1, BODY2, "有助于提升基层医疗机构服", "务水平。”", "聚焦民生需求，", "党委书记",
        "“终于盼来了！”", "姓名\t性别", "正在建设中的综合大楼。", "２０２４年", "\u3000", " ", "\t",
        "■义诊进社区", f"【义诊进社区】{BODY2}", "本报衡阳3月8日讯（记者 王明）", "健康简讯", "责任编辑：王芳",
        "义诊来了！", "县医院专家义诊进", "乡村卫生院，为当地群", "\u3000\u3000本报北京6月2日电 近日，",
    ]
)


_separators = st.sampled_from(["\n", "\n\n", "\r\n", "\n \n", "\n\u3000\n", " "])


@st.composite
def pages(draw) -> str:
    parts = draw(st.lists(st.one_of(_pieces, st.text(min_size=1, max_size=30)), min_size=0, max_size=25))
    seps = [draw(_separators) for _ in parts]
    return "".join(p + s for p, s in zip(parts, seps))


@settings(max_examples=300, deadline=None)
@given(pages())
def test_spans_cover_every_non_blank_character_exactly_once(text: str):
    page = page_from_text(text)
    assert_spans_partition(page, segment_page(page))


# ---------------------------------------------------------------- layouts of other papers


def test_narrow_column_wrapped_body_is_one_article():
    """Body hard-wrapped every 13 characters: the short pieces are not headlines."""
    body = BODY1 + BODY2 + BODY3 + BODY1 + BODY2
    lines = [body[i:i + 13] for i in range(0, len(body), 13)]
    page = "县医院专家义诊进乡村\n本报记者 王明\n" + "\n".join(lines) + "\n健康讲座进社区\n本报讯（通讯员 李华）" + BODY2
    arts = seg(page)
    assert [(a.kind, a.title) for a in arts] == [("article", "县医院专家义诊进乡村"), ("article", "健康讲座进社区")]
    assert arts[0].text == body


def test_place_and_date_datelines_open_articles_after_a_masthead():
    page = (
        f"邵阳日报\n\n义诊服务送到家门口\n\n本报衡阳3月8日讯（记者 王明）{BODY1}\n\n"
        f"基层医改见实效\n\n本报北京6月2日电 {BODY2}\n\n"
        f"远程医疗覆盖四级\n\n据新华社长沙6月2日电（记者 李华）{BODY3}"
    )
    arts = seg(page)
    assert [(a.kind, a.title) for a in arts] == [
        ("fragment", "邵阳日报"), ("article", "义诊服务送到家门口"), ("article", "基层医改见实效"), ("article", "远程医疗覆盖四级")]
    assert arts[1].byline == "本报衡阳3月8日讯（记者 王明）" and arts[1].text.startswith("5月9日")
    assert arts[3].byline == "据新华社长沙6月2日电（记者 李华）"


def test_headlines_ending_in_exclamation_or_question_mark():
    page = f"家庭医生上门啦！\n\n本报记者 王明\n\n{BODY1}\n\n慢病患者怎样用药？\n\n本报讯（通讯员 李华）{BODY2}"
    assert spans(page) == [("article", "家庭医生上门啦！"), ("article", "慢病患者怎样用药？")]


def test_short_news_items_with_marked_lead_titles_and_no_dateline():
    page = (
        f"健康简讯\n\n■县医院开展义诊\n\n{BODY1}\n\n■社区举办健康讲座\n\n{BODY2}\n\n"
        f"【卫生院新添设备】{BODY3}\n\n▲家庭医生签约提速\n\n{BODY2}"
    )
    assert spans(page) == [
        ("fragment", "健康简讯"), ("article", "县医院开展义诊"), ("article", "社区举办健康讲座"),
        ("article", "卫生院新添设备"), ("article", "家庭医生签约提速")]
    assert seg(page)[3].text == BODY3


def test_notice_sign_off_closes_the_notice():
    page = (
        f"关于开展基层卫生人才招聘的公告\n\n根据工作安排，现将有关事项公告如下。\n\n特此公告。\n\n"
        f"邵阳市卫生健康委员会\n\n2025年5月13日\n\n医共体写好健康答卷\n\n{BODY1}\n\n{BODY2}"
    )
    assert spans(page) == [("article", "关于开展基层卫生人才招聘的公告"), ("article", "医共体写好健康答卷")]


def test_page_footer_is_not_joined_to_the_last_article():
    page = f"县医院专家义诊进乡村\n\n本报记者 王明\n\n{BODY1}\n\n责任编辑：王芳  版式：李华\n\n邵阳日报  2025年5月13日  星期二"
    arts = seg(page)
    assert [a.kind for a in arts] == ["article", "fragment"]
    assert arts[0].end == page.index(BODY1) + len(BODY1)


def test_pdf_text_without_blank_lines_or_indents():
    body = BODY1 + BODY3
    lines = [body[i:i + 30] for i in range(0, len(body), 30)]
    page = "\n".join(["县医院专家义诊进乡村", "文/图 记者 王明", *lines, "健康讲座进社区", "记者 李华 实习生 张强", BODY2])
    arts = seg(page)
    assert [(a.title, a.byline) for a in arts] == [("县医院专家义诊进乡村", "文/图 记者 王明"), ("健康讲座进社区", "记者 李华 实习生 张强")]


def test_a_slogan_is_not_a_byline():
    """文 and 图 are bylines only with a separator (文/图 王明, 文 王明): 文明健康 is a slogan."""
    assert classify_line("文明健康 绿色环保") is LineKind.SHORT
    assert classify_line("文 王明") is LineKind.BYLINE and classify_line("文/图 记者 王明") is LineKind.BYLINE
    arts = seg(f"县医院专家义诊进乡村\n\n文 王明\n\n{BODY1}")
    assert (arts[0].title, arts[0].byline) == ("县医院专家义诊进乡村", "文 王明")
