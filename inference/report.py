"""`healthtag report`: one self-contained HTML file to see a week of tags at a glance.

Everything is inline (CSS, a small script, the records as JSON, the charts as
SVG), so the file opens offline in any browser and can be mailed around. The
overview (counts, per-topic bars, topic × source and topic × date tables) is
computed here; the article list is rendered by the page script in slices, so
5,000 articles stay responsive; the article text with the highlighted rule
terms is built only when an article is opened. Corrections made in the page
download as gold-format JSONL for `healthtag train --labelled`.
"""
from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from importlib.resources import files
from pathlib import Path

from .review_queue import rare_labels, review_reasons

TOP_SOURCES = 12
TOP_DATES = 14
BAR_WIDTH = 420


def _esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def source_name(rec: dict) -> str:
    """The newspaper/file an article came from: the page file, or the JSONL record's source."""
    return Path(str(rec.get("source") or "?")).name


def topic_counts(records: list[dict]) -> Counter:
    return Counter(lab["id"] for r in records if r.get("health") for lab in r.get("labels") or [])


def bar_chart(counts: Counter, names: dict[str, str]) -> str:
    """Horizontal bars as inline SVG, most frequent topic first."""
    rows = counts.most_common()
    if not rows:
        return "<p>没有健康类文章。</p>"
    top = rows[0][1]
    h = 22
    parts = [f'<svg class="bars" role="img" aria-label="各主题文章数" width="{BAR_WIDTH + 260}" height="{h * len(rows) + 4}">']
    for i, (lab, n) in enumerate(rows):
        w = max(2, round(BAR_WIDTH * n / top))
        y = i * h + 2
        parts.append(f'<g data-topic="{_esc(lab)}"><text x="0" y="{y + 15}" class="bl">{_esc(names.get(lab, lab))}</text>'
                     f'<rect x="200" y="{y + 3}" width="{w}" height="{h - 6}" class="bar"/>'
                     f'<text x="{206 + w}" y="{y + 15}" class="bn">{n}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def cross_table(records: list[dict], key, names: dict[str, str], limit: int, caption: str,
                in_key_order: bool = False) -> str:
    """Topic × key (source or date) counts as an HTML table; the `limit` keys with most health articles,
    most first, or in key order (dates) when asked."""
    by_key: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    for r in records:
        k = key(r)
        if k is None or not r.get("health"):
            continue
        totals[k] += 1
        for lab in r.get("labels") or []:
            by_key[k][lab["id"]] += 1
    if not totals:
        return ""
    keys = [k for k, _ in totals.most_common(limit)]
    if in_key_order:
        keys.sort()
    topics = [lab for lab, _ in topic_counts(records).most_common()]
    head = "".join(f"<th>{_esc(k)}</th>" for k in keys)
    body = []
    for lab in topics:
        cells = "".join(f'<td class="c{min(4, by_key[k][lab])}">{by_key[k][lab] or ""}</td>' for k in keys)
        body.append(f"<tr><th>{_esc(names.get(lab, lab))}</th>{cells}</tr>")
    more = f"（只列出文章最多的 {limit} 个）" if len(totals) > limit else ""
    return (f'<table class="cross"><caption>{_esc(caption)}{more}</caption><tr><th></th>{head}</tr>'
            + "".join(body) + f'<tr class="tot"><th>健康类文章</th>{"".join(f"<td>{totals[k]}</td>" for k in keys)}</tr></table>')


def compact(rec: dict, rare: set[str]) -> dict:
    """What the page script needs of one record (short keys keep a 5,000-article page small)."""
    return {
        "i": rec.get("id"), "s": source_name(rec), "d": rec.get("date"), "t": rec.get("title") or "",
        "h": rec.get("health"), "l": [[lab["id"], lab.get("score")] for lab in rec.get("labels") or []],
        "a": rec.get("summary") or "", "x": rec.get("text") or "", "p": rec.get("rule_spans") or {},
        "k": rec.get("rule_hits") or {}, "r": review_reasons(rec, rare), "e": rec.get("error"),
    }


def build_report(records: list[dict], names: dict[str, str], title: str = "healthtag 报告") -> str:
    """The whole HTML page for these tag records; `names` maps topic ids to display names."""
    rare = rare_labels(records)
    ok = [r for r in records if not r.get("error")]
    health = [r for r in ok if r.get("health")]
    counts = topic_counts(ok)
    dated = any(r.get("date") for r in ok)
    rows = [compact(r, rare) for r in records]
    review_n = sum(1 for row in rows if row["r"])
    summary = (f'<div class="kpi"><b>{len(records)}</b> 篇文章 · <b>{len(health)}</b> 篇健康类 '
               f'（{len(health) / max(1, len(ok)):.0%}） · <b>{len(records) - len(ok)}</b> 篇读取出错 · '
               f'<b>{review_n}</b> 篇待复核</div>')
    tables = cross_table(ok, source_name, names, TOP_SOURCES, "主题 × 来源（报纸 / 文件）")
    if dated:
        tables += cross_table(ok, lambda r: r.get("date"), names, TOP_DATES, "主题 × 日期", in_key_order=True)
    data = json.dumps({"names": names, "records": rows}, ensure_ascii=False)
    data = data.replace("</", "<\\/")  # a record text must not close the script element
    template = files("healthtag.inference").joinpath("report_template.html").read_text(encoding="utf-8")
    return (template.replace("{{TITLE}}", _esc(title)).replace("{{SUMMARY}}", summary)
            .replace("{{CHART}}", bar_chart(counts, names)).replace("{{TABLES}}", tables)
            .replace("{{DATA}}", data))
