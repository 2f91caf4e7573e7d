"""What one line of a newspaper page looks like: headline, byline, credit, body…

Both OCR repair (ingest) and article splitting (segment) need these shapes:
ingest must not glue a headline onto the previous paragraph, and segment must
tell a new article's headline block from a section heading. One module keeps
the two in agreement.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import Enum

from healthtag.text.textnorm import ends_sentence

HEADLINE_MAX_CHARS = 32
HAN = r"\u3400-\u9fff"


class LineKind(str, Enum):
    SHORT = "short"  # headline-like: short, no sentence end
    BODY = "body"
    SECTION = "section"  # ●建设赋能… in-article section heading
    SUBTITLE = "subtitle"  # ——… sub-headline
    DATELINE = "dateline"  # 本报讯(记者 …)… / 邵阳日报讯(…)… : opens an article, carries body text
    BYLINE = "byline"  # 邵阳日报记者 易蓝 通讯员 阳媚
    CREDIT = "credit"  # 通讯员 刘强 摄影报道 / (李曼云): closes an article
    CAPTION = "caption"  # a photo caption ending in a credit: ……。姜雁 摄
    CONTINUED_FROM = "continued_from"  # (上接1版)…
    CONTINUED_TO = "continued_to"  # (下转2版)
    DATE = "date"  # 2025年5月13日
    MASTHEAD = "masthead"  # 第3版 / 责任编辑 … / 邵阳日报
    COLUMN = "column"  # 市州连线: a column header over several short items
    TABLE = "table"  # tab-separated cells
    LEAD = "lead"  # 【lead title】body… : a short-news item that carries its own title


_DATE_IN_LINE = r"(?:[0-9一二三四五六七八九十]{1,2}月[0-9一二三四五六七八九十]{1,3}日)"
_DATELINE = re.compile(
    # 本报讯 / 邵阳日报讯 / 本报衡阳3月8日讯 / 本报北京6月2日电 / 据新华社北京6月2日电 / 新华社…电
    rf"^据?(?:本报|[{HAN}]{{1,10}}?(?:日报|晚报|早报|时报|商报|报|网|社|台))?"
    rf"(?:[{HAN}]{{1,8}}?{_DATE_IN_LINE}|{_DATE_IN_LINE})?讯\s*(?:[(（【\[]|\s|$)"
    rf"|^据?本报[{HAN}]{{0,8}}?{_DATE_IN_LINE}?电"
    rf"|^据?(?:新华社|中新社|人民网|新华网|央视网|央广网|中国新闻网)[{HAN}0-9]{{0,14}}电"
)
_BYLINE = re.compile(
    rf"^(?:[{HAN}]{{0,10}}?(?:日报|晚报|早报|报社|报|台|网|社|中心))?"
    rf"(?:全媒体|融媒体|特约|见习|首席|实习)?(?:(?:记者|通讯员|撰稿|作者)[\s/:：]*|(?:文/图|图/文|文|图)[\s/:：]+)"
    rf"[{HAN}][{HAN}\s/、·:：]*$"
)
_CREDIT_PHOTO = re.compile(r"^[^。！？!?，,]{0,60}?(?:摄影报道|摄影|摄)$")
_CREDIT_PAREN = re.compile(
    rf"^[(（](?:[{HAN}]{{0,8}}?(?:记者|通讯员)[\s/:：]*)?[{HAN}][{HAN}\s、/·]{{1,20}}[)）]$"
)
_CAPTION = re.compile(r"[。！？!?]\s*[^。！？!?]{1,40}?(?:摄影报道|摄影|摄)$")
_CONTINUED_FROM = re.compile(r"^[(（【\[]?\s*(?:上接|接上)")
_CONTINUED_TO = re.compile(r"^[(（【\[]\s*(?:下转|转)\s*第?\s*[\dA-Z一二三四五六七八九十]+\s*版\s*[)）】\]]$")
_DATE = re.compile(r"^(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年\s*\S{1,3}\s*月\s*\S{1,3}\s*日$")
_MASTHEAD = re.compile(
    r"^(?:第\s*[\d一二三四五六七八九十]+\s*版|[A-Z]?\d{1,2}\s*版)"
    r"|(?:责任编辑|本版编辑|编辑|责编|美术编辑|美编|版式|校对|审核|编审|监制|值班主任|本版邮箱|新闻热线|广告热线|社址|邮编)\s*[:：/\s]"
    rf"|^[{HAN}]{{2,6}}(?:日报|晚报|早报|时报|商报)$"
    r"|星期[一二三四五六日天].{0,12}$"
)
_SECTION_MARK = re.compile(r"^[●■◆▲★◎□◇○•▶►]")
_SUBTITLE = re.compile(r"^(?:——|──|--|—)")
_NAMES = re.compile(rf"^[{HAN}]{{2,3}}(?:[ 、]+[{HAN}]{{2,3}})+$")
_COLUMN_SUFFIXES = (
    "连线", "简讯", "快讯", "短讯", "速递", "动态", "传真", "集锦", "扫描", "视窗",
    "资讯", "纵横", "直通车", "播报", "看台", "之窗", "短波", "一线",
)
_SIGNATURE_SUFFIXES = (
    "委员会", "组织部", "宣传部", "办公室", "办公厅", "人民政府", "政府", "卫健委", "卫生健康委",
    "卫生健康局", "指挥部", "领导小组", "局", "委", "院", "中心", "协会", "学会", "公司",
)


_LEAD_TITLE = re.compile(r"^【([^【】。]{4,40})】(?=\S)")
_HEAD_MARK = re.compile(r"[！？!?]")
_END_MARK = re.compile(r"[！？!?][”\"」』]?$")
# a wrapped line may fall short of the column by a carried-down mark, or pass it by a hanging one
WRAP_SLACK_BELOW, WRAP_SLACK_ABOVE = 3, 2
MIN_WRAPPED_LINES = 8
MIN_WRAPPED_SHARE = 0.3


_WIDE_MARKS = "“”‘’"  # Chinese fonts print curly quotes full width
_WIDE_CHARS = re.compile(f"[\u2e80-\U0010ffff{_WIDE_MARKS}]")


def display_width(text: str) -> int:
    """Columns a line takes in print: 2 for a CJK character or full-width mark, 1 for ASCII."""
    return len(text) + len(_WIDE_CHARS.findall(text))


def column_width(lines: list[str]) -> int | None:
    """The width a page's body is hard-wrapped at, or None for a page printed a paragraph a line.

    In a narrow-column or PDF page most body lines fill the column, so their
    print widths cluster; in a page with a paragraph a line, widths scatter.
    Headlines and paragraph ends are shorter and do not move the cluster.
    """
    widths = [w for w in (display_width(t) for t in lines if "\t" not in t) if w >= 16]
    if not widths:
        return None
    counts = Counter(widths)

    def band(w: int) -> int:
        return sum(counts[x] for x in range(w - WRAP_SLACK_BELOW + 1, w + 1))

    best = max(sorted(counts), key=band)
    wrapped = band(best)
    return best if wrapped >= MIN_WRAPPED_LINES and wrapped / len(widths) >= MIN_WRAPPED_SHARE else None


# kinds of line that may be cut by a column wrap (a byline, heading or masthead line is printed whole)
_WRAPS = frozenset({LineKind.BODY, LineKind.SHORT, LineKind.DATELINE, LineKind.CONTINUED_FROM, LineKind.LEAD})


def fills_column(text: str, width: int | None, printed: str | None = None, kind: LineKind | None = None) -> bool:
    """A line that runs to the column edge without finishing its sentence: it wraps onto the next line.

    `printed` is the line as the file has it, before normalisation, whose
    print width is the one the column has (a full-width digit is wide there).
    `kind` is `classify_line(text)` when the caller has it already.
    """
    if width is None or ends_sentence(text) or (kind or classify_line(text)) not in _WRAPS:
        return False
    return width - WRAP_SLACK_BELOW <= display_width(printed or text) <= width + WRAP_SLACK_ABOVE


def split_lead(text: str) -> tuple[str, str] | None:
    """(title, body) of a 【lead title】body… item, or None.

    Only when what follows the brackets reads as body text: 【时代先锋】黄志强：
    毕生心血献给祖国医学事业 is a headline with a column tag, not an item.
    """
    m = _LEAD_TITLE.match(text)
    if not m:
        return None
    rest = text[m.end():].strip()
    return (m.group(1).strip(), rest) if len(rest) > HEADLINE_MAX_CHARS or ends_sentence(rest) or "。" in rest else None


def comma_count(text: str) -> int:
    return sum(text.count(c) for c in "，,")


def is_exclaimed_headline(text: str) -> bool:
    """A headline carrying ！ or ？ (中午带饭易致癌？胡说！ / 肺癌术后会死得更快吗？——谈肺癌的治疗):
    short, no comma, and every piece between the marks is headline-shaped."""
    if not _HEAD_MARK.search(text) or comma_count(text) or len(text) > HEADLINE_MAX_CHARS:
        return False
    pieces = [p for p in _HEAD_MARK.split(text) if p.strip("”\"」』")]
    return bool(pieces) and sum(map(len, pieces)) >= 4 and all(is_headline_like(p) for p in pieces)


_BOOK_TITLE = re.compile(r"《[^《》]{1,30}》")


def is_headline_like(text: str) -> bool:
    """Short, unfinished, at most one comma, no full stop: the shape of a headline or heading.

    Punctuation inside a 《title》 belongs to the work's name (《孩子，你在哪里？》引社会关注).
    """
    if len(text) > HEADLINE_MAX_CHARS:
        return False
    text = _BOOK_TITLE.sub("书", text)
    return (
        0 < len(text) <= HEADLINE_MAX_CHARS
        and not ends_sentence(text)
        and comma_count(text) <= 1
        and not any(c in text for c in "。！？!?\t")
        and not text.endswith(("，", ",", "、", "：", ":"))
    )


def looks_like_names(text: str) -> bool:
    """A line of 2-3 character personal names separated by spaces: a byline without the word 记者."""
    return bool(_NAMES.match(text))


def looks_like_signature(text: str) -> bool:
    """An issuing body under a notice (中共邵阳市委组织部); only meaningful right before a date line."""
    return len(text) <= 30 and not any(c in text for c in "，,。") and text.endswith(_SIGNATURE_SUFFIXES)


def classify_line(text: str) -> LineKind:
    """The shape of one normalised, non-blank paragraph, without looking at its neighbours."""
    if "\t" in text:
        return LineKind.TABLE
    if _CONTINUED_FROM.match(text):
        return LineKind.CONTINUED_FROM
    if _CONTINUED_TO.match(text):
        return LineKind.CONTINUED_TO
    if _SECTION_MARK.match(text) and len(text) <= 40:
        return LineKind.SECTION
    if _SUBTITLE.match(text) and len(text) <= 50:
        return LineKind.SUBTITLE
    if _DATELINE.match(text):
        return LineKind.DATELINE
    if len(text) <= 60 and (_CREDIT_PHOTO.match(text) or _CREDIT_PAREN.match(text)):
        return LineKind.CREDIT
    if _CAPTION.search(text) and len(text) <= 150:
        return LineKind.CAPTION
    if len(text) <= 60 and not ends_sentence(text) and _BYLINE.match(text):
        return LineKind.BYLINE
    if _DATE.match(text):
        return LineKind.DATE
    if len(text) <= 40 and _MASTHEAD.search(text):
        return LineKind.MASTHEAD
    if len(text) <= 8 and text.endswith(_COLUMN_SUFFIXES):
        return LineKind.COLUMN
    if split_lead(text):
        return LineKind.LEAD
    if is_headline_like(text) or is_exclaimed_headline(text):
        return LineKind.SHORT
    return LineKind.BODY


_TITLE_WORDS = (
    "书记", "主任", "院长", "局长", "部长", "主席", "县长", "市长", "区长", "乡长", "镇长",
    "所长", "站长", "科长", "处长", "校长", "经理", "负责人", "委员", "教授", "医师", "护士长",
)


def is_broken_line(text: str, kind: LineKind | None = None) -> bool:
    """A line that stops mid-sentence: an OCR/column break, not a paragraph end.

    Headlines also lack a full stop, so a short line counts as broken only when
    it ends on a comma-like mark, carries several commas, or ends on a job title
    (……党委书记 / 黄海蓉就……: a name is coming).
    """
    if not text or ends_sentence(text) or "\t" in text:
        return False
    kind = kind or classify_line(text)
    if kind not in (LineKind.BODY, LineKind.SHORT, LineKind.DATELINE, LineKind.CONTINUED_FROM):
        return False
    if text[-1] in "，,、：:；;（(“‘《—":
        return True
    if len(text) > HEADLINE_MAX_CHARS or comma_count(text) >= 2:
        return True
    return len(text) <= 16 and text.endswith(_TITLE_WORDS)


_OPENS_LINE = frozenset({
    LineKind.DATELINE, LineKind.BYLINE, LineKind.CREDIT, LineKind.CONTINUED_FROM, LineKind.CONTINUED_TO,
    LineKind.SECTION, LineKind.SUBTITLE, LineKind.MASTHEAD, LineKind.COLUMN, LineKind.DATE, LineKind.LEAD,
    LineKind.TABLE,
})


def can_continue(text: str, kind: LineKind | None = None) -> bool:
    """Whether a line may be the second half of a broken sentence (it is not a headline, byline, …).

    A short line that ends in ！/？ reads like a headline on its own, but after
    a line broken mid-sentence it is the sentence's end (……能不能治好？).
    """
    if not text:
        return False
    kind = kind or classify_line(text)
    return kind is LineKind.BODY or (kind is LineKind.SHORT and bool(_END_MARK.search(text)))


def can_continue_wrapped(text: str, kind: LineKind | None = None) -> bool:
    """Whether a line may continue a line that filled the column: anything but a line that opens something."""
    return bool(text) and (kind or classify_line(text)) not in _OPENS_LINE
