"""Splitting a newspaper page into articles and fragments.

A page is a sequence of paragraphs. An article starts at a *headline block*:
one to three short unfinished lines (kicker, headline, sub-headline) that are
followed by a byline (记者/通讯员, a line of names) or a dateline (本报讯,
…日报讯), or that contain a ——sub-headline. The same short lines without a
byline are usually section headings inside an article, except in two cases:
at the top of a page, and for photo news, whose credit line (…摄) comes at the
end instead of a byline at the start. Under a short-news column header
(健康简讯), items open at their lead titles (■/●/▲ lines, 【title】body, plain
headlines) without a byline of their own. A credit, a 下转 stub or a notice's
sign-off date closes an article. What is not an article is a fragment:
continuation stubs (上接…版), column headers (市州连线), ads and slogans
(short lines with no body), mastheads and page footers.

Wrapped narrow-column and PDF lines are joined before this (ingest, from the
page's print width), so here every paragraph is one logical line.

Segments partition the page's paragraphs, so every non-blank character of the
page lies in exactly one span; a property test checks this.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from healthtag.text.article import Article, SpanKind
from healthtag.text.textnorm import split_sentences

from .ingest import InputRecord, Page, Paragraph, page_from_text
from .lineshape import (
    LineKind,
    classify_line,
    looks_like_names,
    looks_like_signature,
    split_lead,
)

MAX_HEADLINE_LINES = 3
_RUN_KINDS = (LineKind.SHORT, LineKind.SUBTITLE)
_OPENS_ARTICLE = (LineKind.DATELINE, LineKind.BYLINE)
_BODY_KINDS = (LineKind.BODY, LineKind.CAPTION, LineKind.TABLE, LineKind.DATELINE, LineKind.LEAD)
_DATELINE_PREFIX = re.compile(r"^(.{0,30}?(?:讯|电)\s*[(（【\[][^)）】\]]{0,60}[)）】\]])\s*(.*)$", re.DOTALL)
_DATELINE_BARE = re.compile(r"^(.{0,30}?(?:讯|电))\s+(.*)$", re.DOTALL)
# headlines of official notices: standalone items even without a byline
_MARK = re.compile(r"^[●■◆▲★◎□◇○•▶►]\s*")
# what may follow the credit that closes a photo news item
_AFTER_PHOTO_NEWS = (LineKind.COLUMN, LineKind.MASTHEAD, LineKind.SECTION, LineKind.CONTINUED_FROM, LineKind.DATE)
_NOTICE_TITLE = re.compile(r"(?:公告|公示|通告|通知|启事|声明|倡议书|公开信)$")


@dataclass
class _Start:
    index: int  # paragraph index where the segment starts
    kind: SpanKind
    head: tuple[int, int] = (0, 0)  # headline lines [a, b) (empty for none)
    byline: int | None = None  # paragraph index of a byline line
    strong: bool = False  # opened by a byline or dateline (or a ——sub-headline), not judged from context


def _classify(paras: list[Paragraph]) -> list[LineKind]:
    # a repeated paragraph (a layout artefact) opens nothing, whatever it repeats
    kinds = [LineKind.CAPTION if p.displaced else LineKind.BODY if p.duplicate else classify_line(p.text)
             for p in paras]
    # an issuing body right above a date line signs a notice; it is not a headline
    for i in range(len(kinds) - 1):
        if kinds[i + 1] is LineKind.DATE and looks_like_signature(paras[i].text):
            kinds[i] = LineKind.DATE
    return kinds


def _runs(kinds: list[LineKind], paras: list[Paragraph]) -> list[tuple[int, int, int | None]]:
    """Maximal runs of headline-like lines as (a, b, names_index).

    A line of personal names after the first line of a run is a byline
    (徐典波 陈雨 廖冬明 周凡): the run stops there and reports it.
    """
    runs = []
    i, n = 0, len(kinds)
    while i < n:
        if kinds[i] not in _RUN_KINDS:
            i += 1
            continue
        a = i
        names = None
        while i < n and kinds[i] in _RUN_KINDS:
            if i > a and kinds[i] is LineKind.SHORT and looks_like_names(paras[i].text):
                names = i
                break
            i += 1
        runs.append((a, i, names))
        if names is not None:
            i = names + 1
    return runs


def _closes_article(kind: LineKind) -> bool:
    # a date line signs off a notice (issuing office, then the date): what follows is new
    return kind in (LineKind.CREDIT, LineKind.COLUMN, LineKind.CONTINUED_TO, LineKind.DATE)


def find_starts(paras: list[Paragraph], kinds: list[LineKind]) -> list[_Start]:
    """Where segments start, in page order."""
    n = len(paras)
    starts: dict[int, _Start] = {}
    in_run: set[int] = set()
    runs = _runs(kinds, paras)
    for a, b, _ in runs:
        in_run.update(range(a, b))

    # strong starts: headline block + byline/dateline, or with a ——sub-headline
    weak: list[tuple[int, int]] = []
    for a, b, names in runs:
        nxt = names if names is not None else b
        has_sub = any(kinds[j] is LineKind.SUBTITLE for j in range(a + 1, b))
        opens = names is not None or (nxt < n and kinds[nxt] in _OPENS_ARTICLE)
        if opens or has_sub:
            head_a = max(a, b - MAX_HEADLINE_LINES) if not has_sub else a
            if head_a > a:  # extra short lines above a full headline block: ads, slogans
                starts[a] = _Start(a, "fragment")
            byline = nxt if (nxt < n and (names is not None or kinds[nxt] is LineKind.BYLINE)) else None
            starts[head_a] = _Start(head_a, "article", (head_a, b), byline, strong=True)
        else:
            weak.append((a, b))

    # a dateline with no headline above it still opens an item (短讯 columns)
    bylines = {st.byline for st in starts.values() if st.byline is not None}
    for i, k in enumerate(kinds):
        if k is LineKind.DATELINE and (i - 1) not in in_run and (i - 1) not in bylines:
            starts.setdefault(i, _Start(i, "article", strong=True))

    # fragments: continuation stubs, column headers, masthead lines outside articles
    for i, k in enumerate(kinds):
        if k in (LineKind.CONTINUED_FROM, LineKind.COLUMN):
            starts.setdefault(i, _Start(i, "fragment"))

    def next_start_after(i: int) -> int:
        return min((s for s in starts if s > i), default=n)

    # weak headline runs, judged from their surroundings
    for a, b in weak:
        stop = next_start_after(a)
        has_body = any(kinds[j] in _BODY_KINDS for j in range(b, stop))
        if not has_body:
            # short lines and nothing to read under them: an ad, slogan or heading stub
            if a == 0 or _closes_article(kinds[a - 1]) or _trailing(kinds, b, stop):
                starts.setdefault(a, _Start(a, "fragment"))
            continue
        prev = kinds[a - 1] if a > 0 else None
        is_notice = bool(_NOTICE_TITLE.search(paras[b - 1].text))
        if prev is None or _closes_article(prev) or is_notice or _is_photo_news(kinds, b, stop):
            starts.setdefault(a, _Start(a, "article", (a, b)))

    _column_items(paras, kinds, starts, runs)
    _footers(kinds, starts, n)
    if 0 not in starts and n:
        starts[0] = _Start(0, "fragment")  # text before the first headline: continued from elsewhere
    return [starts[i] for i in sorted(starts)]


_ITEM_TITLE_KINDS = (LineKind.SECTION, LineKind.LEAD)


def _column_items(paras: list[Paragraph], kinds: list[LineKind], starts: dict[int, _Start],
                  runs: list[tuple[int, int, int | None]]) -> None:
    """Items of short-news columns (简讯) and marked headlines that open an article.

    Under a column header (健康简讯, 医讯播报…), up to the next article with a
    byline, each item's lead title (■/●/▲ line, 【title】body, or a plain
    headline line with body under it) opens an item of its own even without
    本报讯: short news carries no byline. Anywhere on the page, a marked line
    right above a byline or dateline is that article's headline.
    """
    n = len(kinds)
    run_at = {a: b for a, b, _ in runs}
    for i, k in enumerate(kinds):
        if k is LineKind.SECTION and i + 1 < n and kinds[i + 1] in _OPENS_ARTICLE:
            starts.pop(i + 1, None)
            byline = i + 1 if kinds[i + 1] is LineKind.BYLINE else None
            starts[i] = _Start(i, "article", (i, i + 1), byline, strong=True)
    columns = [i for i, k in enumerate(kinds) if k is LineKind.COLUMN]
    for c in columns:
        # the column runs up to the next article that opens with a headline and a byline or dateline
        stop = min((s for s, st in starts.items() if s > c and st.kind == "article" and st.strong
                    and kinds[s] is not LineKind.SECTION), default=n)
        i = c + 1
        while i < stop:
            k = kinds[i]
            if k in _ITEM_TITLE_KINDS:
                head = (i, i + 1) if k is LineKind.SECTION else (i, i)
                has_body = k is LineKind.LEAD or (i + 1 < stop and kinds[i + 1] in _BODY_KINDS)
                if has_body:
                    starts[i] = _Start(i, "article", head)
            elif i in run_at and run_at[i] < stop and kinds[run_at[i]] in _BODY_KINDS:
                starts.setdefault(i, _Start(i, "article", (i, run_at[i])))
                i = run_at[i]
                continue
            i += 1


def _footers(kinds: list[LineKind], starts: dict[int, _Start], n: int) -> None:
    """Masthead and footer lines at the end of an article (page foot: 责任编辑…, 邵阳日报 … 星期二) are their own fragment."""
    bounds = sorted(starts) + [n]
    for a, b in itertools.pairwise(bounds):
        if starts[a].kind != "article":
            continue
        j = b
        while j - 1 > a and kinds[j - 1] in (LineKind.MASTHEAD, LineKind.DATE):
            j -= 1
        if j < b and kinds[j] is LineKind.MASTHEAD:
            starts[j] = _Start(j, "fragment")


def _trailing(kinds: list[LineKind], b: int, stop: int) -> bool:
    """Nothing but short or masthead lines from b up to the next segment (or the page end)."""
    return all(kinds[j] in (LineKind.SHORT, LineKind.MASTHEAD, LineKind.SUBTITLE) for j in range(b, stop))


def _is_photo_news(kinds: list[LineKind], b: int, stop: int) -> bool:
    """Body lines from b then a credit line that ends the piece: photo news (图片新闻).

    Photo news has no byline under the headline; its credit (通讯员 … 摄影报道)
    closes it. A credit in the middle of an article, followed by more body, does not count.
    """
    for j in range(b, stop):
        k = kinds[j]
        if k is LineKind.CREDIT:
            after = j + 1
            return after >= stop or kinds[after] in _RUN_KINDS + _AFTER_PHOTO_NEWS
        if k not in _BODY_KINDS:
            return False
    return False


# ---------------------------------------------------------------- fields


def resolve_headline(lines: list[str], sub_lines: list[str]) -> tuple[str, str, str]:
    """(kicker, title, subtitle) from a headline block.

    Chinese papers print a kicker (引题) above the headline and a sub-headline
    (副题) below it, the latter often with a leading ——. A very short first line
    (a place or column: 绥宁, 北塔检察) or one wholly in quotes is a kicker; two
    very short lines are one headline printed on two lines; otherwise the
    shorter, punchier line is the headline and the longer, factual one the
    kicker (above) or sub-headline (below).
    """
    subtitle = sub_lines[0].lstrip("—─- ").strip() if sub_lines else ""
    if not lines:
        return "", subtitle, ""
    if len(lines) == 1:
        return "", lines[0], subtitle
    if len(lines) == 2 and all(len(x) <= 8 for x in lines) and not subtitle:
        return "", " ".join(lines), ""
    first, rest = lines[0], lines[1:]
    if len(first) <= 5 or (first[0] in "“\"「" and first[-1] in "”\"」"):
        kicker, title = first, rest[0]
        if len(rest) > 1 and not subtitle:
            subtitle = rest[1]
        return kicker, title, subtitle
    second = rest[0]
    if len(rest) > 1:
        return first, second, subtitle or rest[1]
    if len(second) < len(first):
        return first, second, subtitle
    return "", first, subtitle or second


def _split_dateline(text: str) -> tuple[str, str]:
    m = _DATELINE_PREFIX.match(text) or _DATELINE_BARE.match(text)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return "", text


def _build(page: Page, paras: list[Paragraph], kinds: list[LineKind], st: _Start, end_i: int, n: int) -> Article:
    seg = range(st.index, end_i)
    start = paras[st.index].start
    end = max(p.end for p in paras[st.index : end_i])  # displaced captions lie inside a joined paragraph
    stem = Path(page.source).stem if page.source not in ("<stdin>", "-") else "stdin"
    art = Article(id=f"{stem}#{n}", source=page.source, start=start, end=end, kind=st.kind, index=n)
    head_a, head_b = st.head
    if st.kind == "fragment":
        shorts = [paras[j].text for j in seg if kinds[j] in (LineKind.SHORT, LineKind.COLUMN, LineKind.MASTHEAD)]
        art.title = shorts[0] if shorts else ""
        art.text = "\n".join(paras[j].text for j in seg if not paras[j].duplicate)
        return art
    head_lines = [_MARK.sub("", paras[j].text) for j in range(head_a, head_b) if kinds[j] in (LineKind.SHORT, LineKind.SECTION)]
    sub_lines = [paras[j].text for j in range(head_a, head_b) if kinds[j] is LineKind.SUBTITLE]
    art.kicker, art.title, art.subtitle = resolve_headline(head_lines, sub_lines)
    bylines: list[str] = []
    if st.byline is not None:
        bylines.append(paras[st.byline].text)
    body: list[str] = []
    for j in seg:
        if head_a <= j < head_b or j == st.byline:
            continue
        p, k = paras[j], kinds[j]
        if p.duplicate or k in (LineKind.MASTHEAD, LineKind.CONTINUED_TO):
            continue
        if k is LineKind.LEAD and j == st.index:
            title, rest = split_lead(p.text) or ("", p.text)
            art.title = art.title or title
            body.append(rest)
            art.sentences.extend(split_sentences(rest))
        elif k is LineKind.DATELINE:
            prefix, rest = _split_dateline(p.text)
            if prefix:
                bylines.append(prefix)
            if rest:
                body.append(rest)
                art.sentences.extend(split_sentences(rest))
        elif k is LineKind.CREDIT:
            (art.captions if bylines else bylines).append(p.text)
        elif k is LineKind.CAPTION:
            art.captions.append(p.text)
        elif k in (LineKind.SHORT, LineKind.SECTION, LineKind.SUBTITLE, LineKind.COLUMN):
            art.sections.append(p.text)
            body.append(p.text)
        else:
            body.append(p.text)
            art.sentences.extend(split_sentences(p.text))
    art.byline = " ".join(bylines)
    art.text = "\n".join(body)
    return art


_PAGE_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
PAGE_HEAD_LINES = 4


def page_date(paras: list[Paragraph], kinds: list[LineKind]) -> str | None:
    """The page's date (YYYY-MM-DD) from its header or footer (2025年5月13日 星期二 / 第3版).

    A date line in the first lines of the page, or a masthead line anywhere that
    carries a weekday or a page number; a notice's sign-off date is not the page's.
    """
    for i, (p, k) in enumerate(zip(paras, kinds)):
        m = _PAGE_DATE.search(p.text)
        if not m:
            continue
        dated_masthead = k is LineKind.MASTHEAD and ("星期" in p.text or "版" in p.text)
        if dated_masthead or (i < PAGE_HEAD_LINES and k in (LineKind.DATE, LineKind.MASTHEAD)):
            y, mo, d = (int(x) for x in m.groups())
            if 1 <= mo <= 12 and 1 <= d <= 31:
                return f"{y:04d}-{mo:02d}-{d:02d}"
    return None


def segment_page(page: Page) -> list[Article]:
    """All article and fragment spans of a page, in page order, ids `<stem>#<n>` from 1."""
    paras = page.paragraphs
    if not paras:
        return []
    kinds = _classify(paras)
    starts = find_starts(paras, kinds)
    date = page_date(paras, kinds)
    out = []
    for n, st in enumerate(starts, 1):
        end_i = starts[n].index if n < len(starts) else len(paras)
        art = _build(page, paras, kinds, st, end_i, n)
        art.date = date
        out.append(art)
    return out


def _record_date(rec: dict) -> str | None:
    return rec["date"] if isinstance(rec.get("date"), str) else None


def article_from_record(rec: dict, source: str) -> Article:
    """A ready-made JSONL article (not segmented).

    A plain record ``{"id", "title"?, "text"}`` is normalised, OCR-repaired and
    split into sentences. A `healthtag segment` line (it carries ``sections``)
    is already all of that: its text lines are taken as they are, the section
    headings are left out of the sentences as in the page, and its kicker,
    subtitle, byline and source are kept, so it tags exactly as inside its page.
    """
    if isinstance(rec.get("sections"), list):
        return _segmented_article(rec, source)
    page = page_from_text(rec["text"], source=source)
    body = [p.text for p in page.paragraphs if not p.duplicate]
    sentences = [s for para in body for s in split_sentences(para)]
    return Article(
        id=rec["id"],
        source=rec.get("source") or source,
        start=0,
        end=len(rec["text"]),
        title=rec.get("title", ""),
        kicker=rec.get("kicker", ""),
        subtitle=rec.get("subtitle", ""),
        byline=rec.get("byline", ""),
        text="\n".join(body),
        sentences=sentences,
        date=_record_date(rec),
    )


def _segmented_article(rec: dict, source: str) -> Article:
    sections = list(rec["sections"])
    lines = [line for line in rec["text"].split("\n") if line.strip()]
    sentences, pending = [], list(sections)
    for line in lines:
        if pending and line == pending[0]:
            pending.pop(0)
            continue
        sentences.extend(split_sentences(line))
    return Article(id=rec["id"], source=rec.get("source") or source, start=0, end=len(rec["text"]),
                   kind=rec.get("kind", "article"), title=rec.get("title", ""), kicker=rec.get("kicker", ""), subtitle=rec.get("subtitle", ""),
                   byline=rec.get("byline", ""), text="\n".join(lines), sentences=sentences, sections=sections,
                   date=_record_date(rec))


def iter_spans(records: Iterator[InputRecord]) -> Iterator[tuple[Article | None, InputRecord]]:
    """Articles and fragments of every input, in order; (None, record) for an unreadable one.

    Reading problems of a page (bad bytes replaced) are attached to the spans
    that contain a replaced character, so only those are flagged.
    """
    for rec in records:
        if rec.error is not None:
            yield None, rec
        elif rec.page is not None:
            for art in segment_page(rec.page):
                if rec.warnings and "\ufffd" in rec.page.text[art.start:art.end]:
                    art.warnings = list(rec.warnings)
                yield art, rec
        elif rec.article is not None:
            yield article_from_record(rec.article, rec.source), rec
