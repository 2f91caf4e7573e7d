"""Reading every gold format the project ships, with errors that name file and line.

* label gold (``dev.jsonl``, ``gate.jsonl``): ``{"id", "title"?, "text", "labels", "summary"?}``;
* page gold (``seeds.jsonl``): spans of seed pages ``{"file", "start", "end", "kind"}``,
  optionally with ``labels``/``summary`` per article; the article text is taken
  from segmenting the page, so the gold article is exactly what `tag` reads.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from healthtag.inference.ingest import IngestError, json_objects, read_page
from healthtag.inference.segment import article_from_record, segment_page

from healthtag.text.article import Article


class GoldError(ValueError):
    """A gold file that cannot be used; the message starts with ``file:line:``."""


@dataclass
class GoldSet:
    path: Path
    articles: list[Article]
    labels: list[set[str]]
    summaries: list[str | None]

    @property
    def digest(self) -> str:
        return file_digest(self.path)


def file_digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]


REVIEW_LABEL_SEPARATORS = re.compile(r"[;,；，、\s]+")


def _csv_records(path: Path, text: str) -> list[tuple[int, dict]]:
    """A `healthtag review` sheet as gold records: `labels` (topic ids) unless `health` says 0 (non_health alone)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id", "text", "labels"} - set(reader.fieldnames or [])
    if missing:
        raise GoldError(f"{path}:1: a review sheet needs the columns id, text, labels (missing: {', '.join(sorted(missing))})")
    out = []
    for row in reader:
        lineno = reader.line_num
        health = (row.get("health") or "1").strip().lower()
        if health not in ("1", "0", "true", "false", "yes", "no", ""):
            raise GoldError(f"{path}:{lineno}: health must be 1 or 0, not {row.get('health')!r}")
        labels = [x for x in REVIEW_LABEL_SEPARATORS.split(row.get("labels") or "") if x]
        if health in ("0", "false", "no"):
            labels = ["non_health"]
        out.append((lineno, {"id": row.get("id"), "title": row.get("title") or "", "text": row.get("text") or "", "labels": labels}))
    return out


def read_records(path: Path) -> list[tuple[int, dict]]:
    """(line number, record) for every non-blank line (or every row of a `healthtag review` CSV)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise GoldError(f"{path}:0: no such gold file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldError(f"{path}:0: cannot read ({exc})") from exc
    if path.suffix.lower() == ".csv":
        out = _csv_records(path, text)
    else:
        try:
            out = json_objects(path, text, "gold record")
        except IngestError as exc:
            raise GoldError(str(exc)) from exc
    if not out:
        raise GoldError(f"{path}:0: empty gold file")
    return out


def gold_kind(path: Path) -> str:
    """``spans`` for page gold (file/start/end), ``labels`` for article gold (text/labels)."""
    lineno, first = read_records(path)[0]
    if {"file", "start", "end"} <= first.keys():
        return "spans"
    if {"text", "labels"} <= first.keys():
        return "labels"
    raise GoldError(f"{path}:{lineno}: neither page gold (file/start/end) nor label gold (text/labels)")


def load_gold(path: Path, pages_dir: Path | None = None) -> GoldSet:
    """Labelled gold articles from either format (page gold: the articles that carry labels)."""
    records = read_records(path)
    if gold_kind(path) == "spans":
        return _from_pages(Path(path), records, pages_dir)
    arts, labels, summaries = [], [], []
    for i, (lineno, rec) in enumerate(records):
        if not isinstance(rec.get("text"), str) or not isinstance(rec.get("labels"), list):
            raise GoldError(f"{path}:{lineno}: a gold record needs 'text' and a 'labels' list")
        fields = {"id": rec.get("id") or f"gold-{i}", "title": rec.get("title") or "", "text": rec["text"]}
        fields.update({k: rec[k] for k in ("kicker", "subtitle", "byline") if isinstance(rec.get(k), str)})
        arts.append(article_from_record(fields, str(path)))
        labels.append(set(rec["labels"]))
        summaries.append(rec.get("summary"))
    return GoldSet(Path(path), arts, labels, summaries)


def _from_pages(path: Path, records: list[tuple[int, dict]], pages_dir: Path | None) -> GoldSet:
    from healthtag.resources import bundled_seeds_dir

    pages = Path(pages_dir) if pages_dir else bundled_seeds_dir()
    segmented: dict[str, dict[tuple[int, int], Article]] = {}
    arts, labels, summaries = [], [], []
    for lineno, rec in records:
        if rec.get("kind", "article") != "article" or not isinstance(rec.get("labels"), list):
            continue
        name = str(rec["file"])
        if name not in segmented:
            page_path = pages / name
            if not page_path.is_file():
                raise GoldError(f"{path}:{lineno}: page {page_path} not found (give the pages folder)")
            segmented[name] = {(a.start, a.end): a for a in segment_page(read_page(page_path)) if a.kind == "article"}
        span = (int(rec["start"]), int(rec["end"]))
        art = segmented[name].get(span) or _best_overlap(segmented[name], span)
        if art is None:
            raise GoldError(f"{path}:{lineno}: no segmented article spans {name}[{rec['start']}:{rec['end']}]")
        arts.append(art)
        labels.append(set(rec["labels"]))
        summaries.append(rec.get("summary"))
    if not arts:
        raise GoldError(f"{path}:0: page gold without labels: use it for segmentation (healthtag evaluate --gold)")
    return GoldSet(path, arts, labels, summaries)


def _best_overlap(articles: dict[tuple[int, int], Article], span: tuple[int, int]) -> Article | None:
    """The segmented article overlapping ``span`` by the segmentation match rule (IoU >= 0.8), if any."""
    from .seg_eval import IOU_THRESHOLD, iou

    best = max(articles.items(), key=lambda kv: iou(kv[0], span), default=None)
    return best[1] if best is not None and iou(best[0], span) >= IOU_THRESHOLD else None
