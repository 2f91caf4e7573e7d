"""Synthetic newspaper pages with exact article spans, for testing segmentation.

The seed pages were read while the segmenter's rules were written, so their
P = R = 1.0 says little about the next paper. This module lays real article
texts (title + paragraphs from an unlabeled corpus) out the way other Chinese
city and provincial papers print them, and records each article's span while
it writes the page, so the gold is exact by construction and owes nothing to
the segmenter: nothing here imports `inference/`.

Layouts and conventions covered (each page draws a layout and a mix):
- wide pages (a paragraph a line, blank lines between), narrow columns
  (body hard-wrapped every 12-24 characters), PDF text (wrapped, no blank
  lines, paragraphs marked by a U+3000 indent or not at all);
- headline blocks: kicker, one- and two-line headlines, ——subtitles,
  headlines ending in ！/？;
- bylines (本报记者…, 文/图…, 记者… 实习生…, bare names) and datelines
  (本报讯（…）, 本报衡阳3月8日讯, 本报北京6月2日电, 据新华社…电（记者…）);
- short-news columns under a column header, items with ■/●/▲ or 【】 lead
  titles and no 本报讯 of their own;
- notices (公告/公示) ending in an issuing office and a date line;
- photo news closed by a credit (… 摄), 上接/下转 stubs, ads and slogans,
  page headers and footers/mastheads at the foot of the page;
- OCR realism: wraps inside words and numbers, full/half-width digit mixes,
  a repeated paragraph.

`make_page_set` writes pages and a span gold file in the format of
`gold/seeds.jsonl` (file, start, end, kind, title), which `healthtag evaluate
--gold` reads. Corpus texts are third-party: the pages are written where the
caller says (runs/, ignored), never into the repository.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范廖石金贾"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玲红建国文斌宇浩凯鹏辉琳晨雪梅慧颖婷欣怡佳航宁瑶雯"
PLACES = ["衡阳", "北京", "长沙", "岳阳", "常德", "郴州", "株洲", "湘潭", "益阳", "永州", "怀化", "娄底", "邵阳", "吉首", "南昌", "武汉"]
PAPERS = ["衡阳日报", "湘潭晚报", "常德日报", "郴州日报", "健康报", "益阳日报", "永州日报"]
COLUMN_HEADERS = ["健康简讯", "卫生快讯", "医卫动态", "杏林短波", "基层传真", "健康速递", "医讯播报"]
BRIEF_MARKS = ["■", "●", "▲"]
ADS = [["关爱生命 无偿献血"], ["文明健康 绿色环保", "共建美丽家园"], ["健康中国 你我同行"], ["创建全国文明城市", "人人参与 人人受益"]]
KICKER_WORDS = ["基层卫健", "医改一线", "健康民生", "聚焦义诊", "“健康县城”行"]
SUBTITLE_FORMS = ["——{place}市{org}推进工作纪实", "——记{place}市{org}医护团队", "——{place}{org}服务群众走笔"]
ORGS = ["人民医院", "中医医院", "妇幼保健院", "疾控中心", "卫生健康局", "中心医院"]
OFFICES = ["{place}市卫生健康委员会", "中共{place}市委组织部", "{place}市人民医院", "{place}市疾病预防控制中心"]
NOTICE_TITLES = ["关于开展{year}年度基层卫生人才招聘的公告", "{place}市{org}领导干部任前公示", "关于公布{year}年医疗机构校验结果的通告"]
FOOTERS = [
    ["责任编辑：{name}  版式：{name}  校对：{name}"],
    ["本版编辑：{name}  电话：0734-{tel}"],
    ["{paper}  {year}年{m}月{d}日  星期{wd}"],
    ["本版邮箱：jiankang{tel}@163.com", "责任编辑：{name}"],
]
HEADERS = [["第{pn}版", "健康"], ["{paper}", "{year}年{m}月{d}日  星期{wd}  第{pn}版"], ["{pn}  卫生健康"]]
WEEKDAYS = "一二三四五六日"
SENTENCE_END = "。！？”"
NO_LINE_START = "，。、；：！？”’）》」,.;:!?)"
NO_LINE_END = "“‘（《「("
FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass
class Span:
    kind: str  # "article" | "fragment"
    title: str
    lines: list[str]  # header lines (never wrapped)
    body: list[str] = field(default_factory=list)  # paragraphs (wrapped by the layout)
    tail: list[str] = field(default_factory=list)  # closing lines (credit, sign-off, 下转)
    convention: str = ""


@dataclass
class Layout:
    name: str
    width: int | None  # wrap body at this many display columns (CJK = 2); None = a paragraph a line
    blank_between: bool  # blank lines between lines/paragraphs
    indent: str  # paragraph indent


def display_width(text: str) -> int:
    return sum(1 if ord(c) < 0x2E80 and c not in "“”‘’" else 2 for c in text)


def wrap(text: str, width: int) -> list[str]:
    """Hard-wrap a paragraph at `width` display columns, as a narrow column prints it.

    Like a typesetter, never start a line with closing punctuation (it hangs
    on the line before) nor end one with an opening mark (it moves down).
    """
    lines, cur, w = [], "", 0
    for c in text:
        cw = display_width(c)
        if w + cw > width and cur and c not in NO_LINE_START:
            carry = ""
            while cur and cur[-1] in NO_LINE_END:
                carry, cur = cur[-1] + carry, cur[:-1]
            if cur:
                lines.append(cur)
                cur, w = carry, display_width(carry)
            else:
                cur = carry
        cur += c
        w += cw
    if cur:
        lines.append(cur)
    return lines


# ---------------------------------------------------------------- corpus


def clean_articles(path: str | Path, min_paras: int = 2, max_chars: int = 900) -> list[dict]:
    """Corpus articles that read as plain news: finished paragraphs, a headline-sized title."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            title = re.sub(r"\s+", " ", rec.get("title") or "").strip()
            paras = [p.strip() for p in (rec.get("text") or "").split("\n") if p.strip()]
            if not (6 <= len(title) <= 26) or any(c in title for c in "。|_") or len(paras) < min_paras:
                continue
            if any(len(p) < 20 or p[-1] not in SENTENCE_END for p in paras):
                continue
            if any(re.match(r"^(?:本报|据|新华社|记者|通讯员|[(（【■●▲]|[^，。]{0,10}讯)", p) for p in paras):
                continue  # our own bylines/datelines/marks are added by the layout
            total = 0
            kept = []
            for p in paras:
                if total + len(p) > max_chars and kept:
                    break
                kept.append(p)
                total += len(p)
            out.append({"id": rec["id"], "title": title, "paras": kept})
    return out


# ---------------------------------------------------------------- page elements


class Composer:
    """Draws page elements from one random stream, so a seed gives one page set."""

    def __init__(self, rng: random.Random, articles: list[dict]):
        self.rng = rng
        self.articles = articles
        self.next_article = 0

    def take(self) -> dict:
        art = self.articles[self.next_article % len(self.articles)]
        self.next_article += 1
        return art

    def name(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))

    def fill(self, template: str) -> str:
        r = self.rng
        return template.format(
            name=self.name(), place=r.choice(PLACES), org=r.choice(ORGS), paper=r.choice(PAPERS),
            year=r.choice((2024, 2025, 2026)), m=r.randint(1, 12), d=r.randint(1, 28), wd=r.choice(WEEKDAYS),
            pn=r.randint(2, 8), tel=r.randint(1000000, 9999999),
        )

    def byline(self) -> str:
        r = self.rng
        return r.choice([
            "本报记者 {a} 通讯员 {b}", "{p}记者 {a} 通讯员 {b} {c}", "文/图 记者 {a}", "记者 {a} 实习生 {b}",
            "{a} {b}", "通讯员 {a} {b}", "本报记者 {a}",
        ]).format(a=self.name(), b=self.name(), c=self.name(), p=r.choice(PAPERS))

    def dateline(self) -> str:
        r = self.rng
        place, m, d = r.choice(PLACES), r.randint(1, 12), r.randint(1, 28)
        return r.choice([
            "本报讯（记者 {a} 通讯员 {b}）", "本报讯 ", "本报{place}{m}月{d}日讯（记者 {a}）", "本报{place}{m}月{d}日电 ",
            "据新华社{place}{m}月{d}日电（记者 {a}）", "{paper}讯（通讯员 {a}）", "新华社{place}{m}月{d}日电（记者 {a} {b}）",
        ]).format(a=self.name(), b=self.name(), place=place, m=m, d=d, paper=r.choice(PAPERS))

    def headline_lines(self, title: str) -> tuple[list[str], str]:
        """Header lines of a headline block and the title a reader would give the article."""
        r = self.rng
        roll = r.random()
        if roll < 0.15 and not title.endswith(("！", "？")):
            title = title + r.choice("！？")
        lines = [title]
        if " " in title and r.random() < 0.5:
            lines = title.split(" ", 1)  # a two-line headline, printed as two lines
        roll = r.random()
        if roll < 0.2:
            lines = [r.choice(KICKER_WORDS + PLACES)] + lines
        elif roll < 0.4:
            lines = lines + [self.fill(r.choice(SUBTITLE_FORMS))]
        return lines, title

    def news(self, opener: str | None = None) -> Span:
        """A regular article: headline block, byline or dateline, paragraphs."""
        r = self.rng
        art = self.take()
        lines, title = self.headline_lines(art["title"])
        body = list(art["paras"])
        opener = opener or r.choice(("byline", "dateline", "byline+dateline"))
        if opener in ("byline", "byline+dateline"):
            lines.append(self.byline())
        if opener in ("dateline", "byline+dateline"):
            body[0] = self.dateline() + body[0]
        if len(body) >= 3 and r.random() < 0.25:
            body.insert(2, r.choice(BRIEF_MARKS[:1] + ["●"]) + body[1][:10].rstrip("，。、：；"))  # in-article section heading
        span = Span("article", title, lines, body, convention=f"news:{opener}")
        if r.random() < 0.1:
            span.tail.append(f"（下转{r.randint(2, 8)}版）")
            span.convention += "+continued"
        return span

    def photo_news(self) -> Span:
        art = self.take()
        title = art["title"]
        credit = self.rng.choice(["{a} 摄", "通讯员 {a} {b} 摄影报道", "记者/{a} 通讯员/{b} 摄"]).format(a=self.name(), b=self.name())
        return Span("article", title, [title], art["paras"][:1], [credit], convention="photo")

    def notice(self) -> Span:
        r = self.rng
        title = self.fill(r.choice(NOTICE_TITLES))
        body = [
            "根据工作安排，现将有关事项公告如下。",
            f"一、时间安排。自{r.randint(1, 12)}月{r.randint(1, 28)}日起，为期{r.randint(5, 15)}个工作日。",
            f"二、联系方式。联系电话：0734-{r.randint(1000000, 9999999)}。",
            "特此公告。" if r.random() < 0.5 else "欢迎社会各界监督。",
        ]
        tail = [self.fill(r.choice(OFFICES)), f"{r.choice((2024, 2025, 2026))}年{r.randint(1, 12)}月{r.randint(1, 28)}日"]
        return Span("article", title, [title], body, tail, convention="notice")

    def briefs(self) -> list[Span]:
        """A short-news column: the header (a fragment) and 3-4 items without 本报讯."""
        r = self.rng
        spans = [Span("fragment", "", [r.choice(COLUMN_HEADERS)], convention="column")]
        inline = r.random() < 0.35
        mark = r.choice(BRIEF_MARKS)
        for _ in range(r.randint(3, 4)):
            art = self.take()
            paras = art["paras"][: r.choice((1, 1, 2))]
            if inline:
                title = re.sub(r"^【[^】]*】", "", art["title"])  # no paper nests a column tag inside a lead title
                spans.append(Span("article", title, [], [f"【{title}】{paras[0]}"] + paras[1:], convention="brief:【】"))
            else:
                spans.append(Span("article", art["title"], [mark + art["title"]], paras, convention=f"brief:{mark}"))
        return spans

    def ad(self) -> Span:
        return Span("fragment", "", list(self.rng.choice(ADS)), convention="ad")

    def continued_from(self) -> Span:
        art = self.take()
        return Span("fragment", "", [], [f"（上接{self.rng.randint(1, 3)}版）" + art["paras"][-1]], convention="continued_from")

    def header(self) -> Span:
        return Span("fragment", "", [self.fill(x) for x in self.rng.choice(HEADERS)], convention="header")

    def footer(self) -> Span:
        return Span("fragment", "", [self.fill(x) for x in self.rng.choice(FOOTERS)], convention="footer")


LAYOUTS = [
    Layout("wide", None, True, ""),
    Layout("wide-indent", None, True, "\u3000\u3000"),
    Layout("narrow", 0, False, "\u3000\u3000"),
    Layout("narrow-blank", 0, True, ""),
    Layout("pdf", 0, False, "\u3000\u3000"),
    Layout("pdf-noindent", 0, False, ""),
]


def compose_page(c: Composer) -> list[Span]:
    """The spans of one page, top to bottom."""
    r = c.rng
    spans: list[Span] = []
    if r.random() < 0.6:
        spans.append(c.header())
    if r.random() < 0.25:
        spans.append(c.continued_from())
    kinds = ["news", "news", "news", "photo", "notice", "briefs", "ad", "news!"]
    for _ in range(r.randint(3, 5)):
        k = r.choice(kinds)
        if k == "news":
            spans.append(c.news())
        elif k == "news!":  # the article after a notice or a masthead line must still start
            spans.append(c.news(opener="dateline"))
        elif k == "photo":
            spans.append(c.photo_news())
        elif k == "notice":
            spans.append(c.notice())
            spans.append(c.news(opener=r.choice(("dateline", "byline"))))
        elif k == "briefs":
            spans.extend(c.briefs())
        else:
            spans.append(c.ad())
    if r.random() < 0.7:
        spans.append(c.footer())
    return spans


def _ocr_noise(r: random.Random, paragraph: str) -> str:
    if r.random() < 0.2:
        paragraph = re.sub(r"\d+", lambda m: m.group(0).translate(FULLWIDTH_DIGITS) if r.random() < 0.5 else m.group(0), paragraph)
    return paragraph


def render(spans: list[Span], layout: Layout, r: random.Random) -> tuple[str, list[dict]]:
    """Page text and gold spans; wide pages get occasional mid-word line breaks and a repeat."""
    width = layout.width
    if width == 0:
        width = r.randint(24, 48) if layout.name.startswith("narrow") else r.randint(60, 84)
    sep = "\n\n" if layout.blank_between else "\n"
    out: list[str] = []
    gold: list[dict] = []
    pos = 0

    def emit(line: str) -> None:
        nonlocal pos
        if out:
            out.append(sep)
            pos += len(sep)
        out.append(line)
        pos += len(line)

    for span in spans:
        start = None
        for line in span.lines:
            emit(line)
            start = pos - len(line) if start is None else start
        for k, para in enumerate(span.body):
            para = _ocr_noise(r, para)
            if width is None:
                pieces = [para]
                if len(para) > 60 and r.random() < 0.1:  # an OCR line break inside a word or number
                    cut = r.randint(20, len(para) - 20)
                    pieces = [para[:cut], para[cut:]]
            else:
                pieces = wrap(para, width)
            pieces[0] = layout.indent + pieces[0]
            for i, piece in enumerate(pieces):
                if i and width is not None:
                    out.append("\n")
                    out.append(piece)
                    pos += 1 + len(piece)
                else:
                    emit(piece)
                if start is None:
                    start = pos - len(piece) + (len(layout.indent) if i == 0 else 0)
            if width is None and span.kind == "article" and k == 0 and len(span.body) > 1 and r.random() < 0.05:
                emit(para)  # a repeated paragraph (a layout artefact)
        for line in span.tail:
            emit(line)
            start = pos - len(line) if start is None else start
        if start is not None:
            gold.append({"start": start, "end": pos, "kind": span.kind, "title": span.title, "convention": span.convention})
    return "".join(out) + "\n", gold


def make_page_set(corpus: str | Path, out_dir: str | Path, pages: int = 40, seed: int = 0) -> Path:
    """Write `pages` synthetic pages and their span gold (`gold.jsonl`) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    articles = clean_articles(corpus)
    rng.shuffle(articles)
    c = Composer(rng, articles)
    gold_path = out / "gold.jsonl"
    tmp = gold_path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for n in range(pages):
            layout = LAYOUTS[n % len(LAYOUTS)]
            text, gold = render(compose_page(c), layout, rng)
            fname = f"synth_{seed}_{n:03d}_{layout.name}.txt"
            (out / fname).write_text(text, encoding="utf-8")
            fh.writelines(json.dumps({"id": f"{Path(fname).stem}#{k}", "file": fname, **g}, ensure_ascii=False) + "\n" for k, g in enumerate(gold, 1))
    tmp.replace(gold_path)
    return gold_path


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pages", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(make_page_set(a.corpus, a.out, a.pages, a.seed))
