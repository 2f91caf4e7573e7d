"""Reading pages and article files: decoding, normalising, repairing OCR breaks.

Regional newspaper pages reach users as OCR'd text in whatever encoding the
export tool used (UTF-8, UTF-8 with BOM, GB18030/GBK, CRLF line ends). Their
paragraphs are broken mid-sentence where columns wrap, and a paragraph is
sometimes printed twice. Everything here keeps offsets into the decoded text,
so that a tag can always be traced back to the file.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healthtag.text.textnorm import normalize_line

from .lineshape import can_continue, comma_count, is_broken_line

PAGE_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl",)
MIN_DUPLICATE_CHARS = 20


class IngestError(ValueError):
    """A file or record that cannot be read; the message names the file (and line)."""


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of a page after OCR repair.

    `pieces` are the (start, end) offsets of the original lines it was joined
    from, so the original text stays recoverable; `start`/`end` span them all.
    `duplicate` marks a verbatim repeat of an earlier paragraph: it stays in
    the page (its span is covered) but is left out of article text. A
    `displaced` paragraph lies inside the span of the paragraph before it (see
    `split_paragraphs`), so paragraphs are in page order by `start` only.
    """

    start: int
    end: int
    text: str
    pieces: tuple[tuple[int, int], ...]
    duplicate: bool = False
    displaced: bool = False  # a caption printed inside a sentence split by the layout


@dataclass
class Page:
    source: str
    text: str  # the decoded file text; all offsets point into it
    encoding: str
    paragraphs: list[Paragraph] = field(default_factory=list)


@dataclass
class InputRecord:
    """One unit of input for tagging: a page to segment, a ready article, or an unreadable item."""

    source: str
    page: Page | None = None
    article: dict[str, Any] | None = None  # {"id", "title", "text"} from JSONL
    line: int | None = None
    error: str | None = None
    size: int = 0          # input bytes this record covers (for progress); 0 when unknown


# ---------------------------------------------------------------- decoding


def _looks_binary(data: bytes) -> bool:
    if b"\x00" in data[:65536]:
        return True
    sample = data[:65536]
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return len(sample) > 0 and control / len(sample) > 0.05


def decode_bytes(data: bytes, source: str = "<bytes>") -> tuple[str, str]:
    """Decode a page's bytes, returning (text, encoding name).

    UTF-8 (with or without BOM) and UTF-16 with BOM are recognised first; else
    GB18030 (a superset of GBK and GB2312). Line ends are translated the way
    Python's text mode does (CRLF and CR become LF): offsets refer to that text.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        text, enc = data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, enc = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise IngestError(f"{source}: invalid UTF-16 text ({exc.reason} at byte {exc.start})") from exc
    else:
        if _looks_binary(data):
            raise IngestError(f"{source}: looks like a binary file, not text")
        try:
            text, enc = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, enc = data.decode("gb18030"), "gb18030"
            except UnicodeDecodeError as exc:
                raise IngestError(
                    f"{source}: neither UTF-8 nor GB18030 (bad byte at offset {exc.start})"
                ) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n"), enc


# ---------------------------------------------------------------- paragraphs


def _raw_lines(text: str) -> Iterator[tuple[int, int, str]]:
    """Non-blank lines as (start, end, normalised text), offsets trimmed to the first/last non-blank char."""
    pos = 0
    for raw in text.split("\n"):
        line_start, line_end = pos, pos + len(raw)
        pos = line_end + 1
        lead = len(raw) - len(raw.lstrip())
        trail = len(raw) - len(raw.rstrip())
        if lead == len(raw):
            continue
        norm = normalize_line(raw)
        if norm:
            yield line_start + lead, line_end - trail, norm


_CAPTION_HEAD = re.compile(r"^(?:图为|图:|图：|上图|下图|左图|右图)")
_CAPTION_TAIL = re.compile(r"(?:现场|合影|留影|外景|全景|一角|场景|掠影|大楼|风貌|剪影|瞬间)[。.]?$")


def looks_like_caption(line: str) -> bool:
    """A photo caption that layout dropped between the halves of a sentence (…现场。 / 图为…)."""
    return (
        len(line) <= 45
        and comma_count(line) == 0
        and bool(_CAPTION_HEAD.match(line) or _CAPTION_TAIL.search(line))
    )


def split_paragraphs(text: str) -> list[Paragraph]:
    """Paragraphs of a page, with OCR line breaks repaired and verbatim repeats marked.

    A line that stops mid-sentence (see `is_broken_line`) is joined to the next
    line when that one reads as a continuation (a body line, not a headline or
    byline), whether a blank line separates them or not. When one or two photo
    captions sit between the two halves (column layout), the halves are joined
    around them and the captions follow as `displaced` paragraphs. Joining never
    adds or changes characters: the halves are concatenated.
    """
    lines = list(_raw_lines(text))
    paragraphs: list[Paragraph] = []
    i = 0
    while i < len(lines):
        cur = [lines[i]]
        displaced: list[tuple[int, int, str]] = []
        j = i + 1
        while j < len(lines) and is_broken_line(cur[-1][2]):
            k = j
            while k < len(lines) and k - j < 2 and looks_like_caption(lines[k][2]):
                k += 1
            if k > j and k < len(lines) and can_continue(lines[k][2]):
                displaced.extend(lines[j:k])
                cur.append(lines[k])
                j = k + 1
            elif can_continue(lines[j][2]):
                cur.append(lines[j])
                j += 1
            else:
                break
        paragraphs.append(
            Paragraph(
                start=cur[0][0],
                end=cur[-1][1],
                text="".join(t for _, _, t in cur),
                pieces=tuple((s, e) for s, e, _ in cur),
            )
        )
        paragraphs.extend(Paragraph(s, e, t, ((s, e),), displaced=True) for s, e, t in displaced)
        i = j
    return mark_duplicates(paragraphs)


def mark_duplicates(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Mark a paragraph that repeats an earlier one verbatim (an OCR/layout artefact).

    Short lines (headings, 环境好) legitimately repeat, so only paragraphs of
    at least MIN_DUPLICATE_CHARS characters count.
    """
    seen: set[str] = set()
    out = []
    for p in paragraphs:
        dup = len(p.text) >= MIN_DUPLICATE_CHARS and p.text in seen
        seen.add(p.text)
        out.append(dataclasses.replace(p, duplicate=True) if dup else p)
    return out


def page_from_text(text: str, source: str = "<text>", encoding: str = "str") -> Page:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return Page(source=source, text=text, encoding=encoding, paragraphs=split_paragraphs(text))


def read_page(path: str | Path) -> Page:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    text, enc = decode_bytes(data, str(path))
    return page_from_text(text, source=str(path), encoding=enc)


# ---------------------------------------------------------------- JSONL


def parse_jsonl_line(line: str, source: str, lineno: int) -> InputRecord:
    """One JSONL line → an article record, or an error record naming file and line."""
    where = f"{source}:{lineno}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return InputRecord(source=source, line=lineno, error=f"{where}: invalid JSON ({exc.msg})")
    if not isinstance(obj, dict):
        return InputRecord(source=source, line=lineno, error=f"{where}: expected a JSON object")
    text = obj.get("text")
    rid = obj.get("id")
    rid = str(rid) if rid is not None else where
    if not isinstance(text, str):
        what = "missing" if text is None else "not a string"
        return InputRecord(source=source, line=lineno, article={"id": rid}, error=f"{where}: field 'text' is {what}")
    title = obj.get("title") or ""
    if not isinstance(title, str):
        title = str(title)
    return InputRecord(source=source, line=lineno, article={"id": rid, "title": title, "text": text})


def read_jsonl(path: str | Path) -> Iterator[InputRecord]:
    """Articles of a JSONL file, one per non-blank line, errors as records (the batch goes on)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        text, _ = decode_bytes(data, str(path))
    except (OSError, IngestError) as exc:
        msg = str(exc) if isinstance(exc, IngestError) else f"{path}: cannot read file ({exc})"
        yield InputRecord(source=str(path), error=msg)
        return
    yield from _jsonl_records(text.split("\n"), str(path))


def _jsonl_records(lines: list[str], source: str) -> Iterator[InputRecord]:
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            rec = parse_jsonl_line(line, source, lineno)
            rec.size = len(line.encode("utf-8", errors="replace")) + 1
            yield rec


# ---------------------------------------------------------------- paths


def expand_paths(paths: list[str]) -> Iterator[tuple[str, Path | None]]:
    """Resolve CLI paths into files: folders recursively in sorted order; `-` is stdin.

    Yields (display name, path); a missing path is yielded with path None so
    the caller reports it and goes on.
    """
    for p in paths:
        if p == "-":
            yield "-", None
            continue
        path = Path(p)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file() and f.suffix.lower() in PAGE_SUFFIXES + JSONL_SUFFIXES:
                    yield str(f), f
        elif path.exists():
            yield str(path), path
        else:
            yield str(path), None


def iter_inputs(paths: list[str]) -> Iterator[InputRecord]:
    """Every input unit of the given paths, in order: pages, JSONL articles, or error records."""
    for name, path in expand_paths(paths):
        if name == "-":
            yield from _read_stdin()
        elif path is None:
            yield InputRecord(source=name, error=f"{name}: no such file or folder")
        elif path.suffix.lower() in JSONL_SUFFIXES:
            yield from read_jsonl(path)
        else:
            try:
                yield InputRecord(source=name, page=read_page(path), size=_size(path))
            except IngestError as exc:
                yield InputRecord(source=name, error=str(exc), size=_size(path))


def _read_stdin() -> Iterator[InputRecord]:
    """Stdin holds either JSONL articles (first non-blank char `{`) or one page."""
    data = sys.stdin.buffer.read()
    try:
        text, enc = decode_bytes(data, "<stdin>")
    except IngestError as exc:
        yield InputRecord(source="-", error=str(exc))
        return
    if text.lstrip().startswith("{"):
        yield from _jsonl_records(text.split("\n"), "<stdin>")
    else:
        yield InputRecord(source="-", page=page_from_text(text, source="<stdin>", encoding=enc))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def input_size(paths: list[str]) -> int | None:
    """Total bytes of the files the paths expand to (None when stdin is among them: size unknown)."""
    total = 0
    for name, path in expand_paths(paths):
        if name == "-":
            return None
        if path is not None:
            total += _size(path)
    return total
