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
import logging
import os
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healthtag.text.textnorm import normalize_line

from .lineshape import (
    can_continue,
    can_continue_wrapped,
    classify_line,
    column_width,
    comma_count,
    fills_column,
    is_broken_line,
)

log = logging.getLogger(__name__)

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
    warnings: list[str] = field(default_factory=list)   # e.g. bad bytes decoded with replacement


# ---------------------------------------------------------------- decoding


def _looks_binary(data: bytes) -> bool:
    """Mostly control bytes: an image, an archive, a PDF. A stray NUL or bad byte in text is not that."""
    sample = data[:65536]
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return len(sample) > 0 and control / len(sample) > 0.05


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_bytes(data: bytes, source: str = "<bytes>") -> tuple[str, str]:
    """Decode a page's bytes strictly, returning (text, encoding name); `IngestError` if that fails.

    UTF-8 (with or without BOM) and UTF-16 with BOM are recognised first; else
    GB18030 (a superset of GBK and GB2312). Line ends are translated the way
    Python's text mode does (CRLF and CR become LF): offsets refer to that text.
    """
    text, enc, problems = decode_tolerant(data, source)
    if problems:
        raise IngestError(problems[0])
    return text, enc


def decode_tolerant(data: bytes, source: str = "<bytes>") -> tuple[str, str, list[str]]:
    """Like `decode_bytes`, but a few bad bytes (or NULs) cost only themselves.

    They become U+FFFD and each problem is reported with its byte offset and
    line, so the rest of the page is still segmented and tagged. Only a file
    that is mostly control bytes is refused as binary.
    """
    problems: list[str] = []
    if data.startswith(b"\xef\xbb\xbf"):
        text, enc = _decode_reporting(data[3:], "utf-8", source, problems, skipped=3), "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, enc = _decode_reporting(data, "utf-16", source, problems), "utf-16"
    else:
        if _looks_binary(data):
            raise IngestError(f"{source}: looks like a binary file, not text")
        try:
            text, enc = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as utf8_error:
            try:
                text, enc = data.decode("gb18030"), "gb18030"
            except UnicodeDecodeError:
                # neither decodes whole: take the one that loses fewer characters
                as_utf8 = data.decode("utf-8", errors="replace")
                as_gb = data.decode("gb18030", errors="replace")
                if as_gb.count("\ufffd") < as_utf8.count("\ufffd"):
                    text, enc = _decode_reporting(data, "gb18030", source, problems), "gb18030"
                else:
                    text, enc = _decode_reporting(data, "utf-8", source, problems), "utf-8"
                del utf8_error
    if "\x00" in text:
        first = text.index("\x00")
        problems.append(f"{source}:{text.count(chr(10), 0, first) + 1}: NUL character(s) replaced by U+FFFD")
        text = text.replace("\x00", "\ufffd")
    return text.replace("\r\n", "\n").replace("\r", "\n"), enc, problems


def _decode_reporting(data: bytes, encoding: str, source: str, problems: list[str], skipped: int = 0) -> str:
    """Decode, replacing bad bytes; each bad run is reported as ``source:line: ... byte offset N``."""
    out, pos = [], 0
    while True:
        try:
            out.append(data[pos:].decode(encoding))
            return "".join(out)
        except UnicodeDecodeError as err:
            bad = pos + err.start
            out.append(data[pos:bad].decode(encoding))
            out.append("\ufffd")
            if len(problems) < 20:
                problems.append(f"{source}:{_line_of(data, bad)}: bytes not valid {encoding} at byte offset "
                                f"{bad + skipped} replaced by U+FFFD")
            pos = pos + err.end
            if len(problems) >= 20:      # a badly broken file: replace the rest without reporting each run
                out.append(data[pos:].decode(encoding, errors="replace"))
                return "".join(out)


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


def _indented(text: str, start: int) -> bool:
    """Whether the line whose first non-blank character is at `start` is indented like a new paragraph."""
    lead = text[text.rfind("\n", 0, start) + 1 : start]
    return "\u3000" in lead or lead.startswith(("  ", "\t"))


def split_paragraphs(text: str) -> list[Paragraph]:
    """Paragraphs of a page, with OCR line breaks repaired and verbatim repeats marked.

    A line that stops mid-sentence (see `is_broken_line`) is joined to the next
    line when that one reads as a continuation (a body line, not a headline or
    byline), whether a blank line separates them or not. When one or two photo
    captions sit between the two halves (column layout), the halves are joined
    around them and the captions follow as `displaced` paragraphs. A page whose
    body is hard-wrapped (narrow columns, PDF text: see `column_width`) joins a
    line that fills the column to the very next line (no blank line between)
    unless that one is indented or opens something (a byline, dateline,
    credit, …), since there the next line may look like a headline only
    because the wrap cut it short. Joining never
    adds or changes characters: the halves are concatenated.
    """
    lines = list(_raw_lines(text))
    kinds = [classify_line(t) for _, _, t in lines]  # once per line: every join test below reads them
    # print widths are measured on the characters as printed (a full-width digit is wide before NFKC)
    width = column_width([text[s:e] for s, e, _ in lines])

    def wraps_onto(a: int, b: int) -> bool:
        """Line a fills the column and line b, right under it (no blank line), carries on its text."""
        (s, e, t), start_b = lines[a], lines[b][0]
        return (fills_column(t, width, text[s:e], kinds[a]) and text.count("\n", e, start_b) == 1
                and not _indented(text, start_b) and can_continue_wrapped(lines[b][2], kinds[b]))

    paragraphs: list[Paragraph] = []
    i = 0
    while i < len(lines):
        cur = [lines[i]]
        last = i  # index of cur's last line
        displaced: list[tuple[int, int, str]] = []
        j = i + 1
        while j < len(lines):
            if wraps_onto(last, j):
                cur.append(lines[j])
                last, j = j, j + 1
                continue
            if not is_broken_line(lines[last][2], kinds[last]):
                break
            k = j
            while k < len(lines) and k - j < 2 and looks_like_caption(lines[k][2]):
                k += 1
            if k > j and k < len(lines) and can_continue(lines[k][2], kinds[k]):
                displaced.extend(lines[j:k])
                cur.append(lines[k])
                last, j = k, k + 1
            elif can_continue(lines[j][2], kinds[j]):
                cur.append(lines[j])
                last, j = j, j + 1
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


def read_page(path: str | Path, problems: list[str] | None = None) -> Page:
    """A page file, decoded; bad bytes are replaced and reported into ``problems`` (else refused)."""
    path = Path(path)
    data = _read_regular(path)
    if problems is None:
        text, enc = decode_bytes(data, str(path))
    else:
        text, enc, found = decode_tolerant(data, str(path))
        problems.extend(found)
    return page_from_text(text, source=str(path), encoding=enc)


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file; a FIFO, device or socket is refused by its type and never opened."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise IngestError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(mode):
        raise IngestError(f"{path}: not a regular file ({_kind_of(mode)}); not read")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read file ({exc.strerror or exc})") from exc


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


# ---------------------------------------------------------------- JSONL


def parse_jsonl_line(line: str, source: str, lineno: int) -> InputRecord:
    """One JSONL line → an article record, or an error record naming file and line."""
    where = f"{source}:{lineno}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return InputRecord(source=source, line=lineno, error=f"{where}: invalid JSON ({exc.msg})")
    except RecursionError:
        return InputRecord(source=source, line=lineno, error=f"{where}: JSON nested too deeply")
    if not isinstance(obj, dict):
        return InputRecord(source=source, line=lineno, error=f"{where}: expected a JSON object")
    rid = obj.get("id")
    rid = str(rid) if isinstance(rid, (str, int, float)) and not isinstance(rid, bool) else where
    if not _encodable(rid):
        rid = where
    text = obj.get("text")
    if not isinstance(text, str):
        what = "missing" if text is None else "not a string"
        return InputRecord(source=source, line=lineno, article={"id": rid}, error=f"{where}: field 'text' is {what}")
    article: dict[str, Any] = {"id": rid, "title": "", "text": text}
    for key in ARTICLE_TEXT_FIELDS:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            value = str(value) if isinstance(value, (int, float)) else None
        if value:
            article[key] = value
    if obj.get("kind") in ("article", "fragment"):
        article["kind"] = obj["kind"]
    if isinstance(obj.get("sections"), list) and all(isinstance(x, str) for x in obj["sections"]):
        article["sections"] = obj["sections"]       # `segment` output: the body's section headings
    bad = [k for k, v in article.items() if isinstance(v, str) and not _encodable(v)]
    bad += ["sections"] if not all(_encodable(x) for x in article.get("sections", [])) else []
    if bad:
        return InputRecord(source=source, line=lineno, article={"id": rid},
                           error=f"{where}: field '{bad[0]}' holds a lone surrogate (not valid Unicode text)")
    if not text.strip() and not article["title"].strip():
        # caught here rather than by the predictor, so that the message can name the line
        return InputRecord(source=source, line=lineno, article={"id": rid},
                           error=f"{where}: empty article (blank 'text' and no title)")
    return InputRecord(source=source, line=lineno, article=article)


ARTICLE_TEXT_FIELDS = ("title", "kicker", "subtitle", "byline", "source")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_jsonl(path: str | Path, source: str | None = None) -> Iterator[InputRecord]:
    """Articles of a JSONL file, one per non-blank line, errors as records (the batch goes on).

    A line with bytes that are not UTF-8 (nor, for a whole GB18030 file, GB18030)
    becomes one error record; the other lines are read as usual.
    """
    path = Path(path)
    name = source or str(path)
    try:
        data = _read_regular(path)
    except IngestError as exc:
        yield InputRecord(source=name, error=str(exc).replace(str(path), name, 1))
        return
    yield from jsonl_bytes_records(data, name)


def jsonl_bytes_records(data: bytes, source: str) -> Iterator[InputRecord]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    whole = None
    for encoding in ("utf-8", "gb18030"):
        try:
            whole = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if whole is not None:
        yield from _jsonl_records(whole.replace("\r\n", "\n").split("\n"), source)
        return
    offset = 0
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield InputRecord(source=source, line=lineno, size=len(raw) + 1,
                              error=f"{source}:{lineno}: bytes not valid UTF-8 at byte offset {offset + exc.start}")
        else:
            yield from _jsonl_records([line], source, first_line=lineno)
        offset += len(raw) + 1


def _jsonl_records(lines: list[str], source: str, first_line: int = 1) -> Iterator[InputRecord]:
    for lineno, line in enumerate(lines, first_line):
        if line.strip():
            rec = parse_jsonl_line(line, source, lineno)
            rec.size = len(line.encode("utf-8", errors="replace")) + 1
            yield rec


def json_objects(path: Path, text: str, what: str = "record") -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of JSON-lines `text` read from `path`.

    For files the user made or edited (gold, reviewed labels, tag records): the
    first bad line stops the read with a `file:line:` message, unlike article
    input, where a bad line becomes an error record and the batch goes on.
    """
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
        if not isinstance(rec, dict):
            raise IngestError(f"{path}:{lineno}: a {what} must be a JSON object")
        out.append((lineno, rec))
    return out


# ---------------------------------------------------------------- paths


def display_name(path: Path) -> str:
    """How a file is named in records: relative to the working folder when inside it, else absolute.

    The same file spelled ``seeds/x.txt``, ``./seeds/x.txt`` or ``/abs/seeds/x.txt``
    gets one name, so ids built from it (error records, ``--resume``) do not
    depend on how the path was typed.
    """
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


def expand_paths(paths: list[str], warn: bool = True) -> Iterator[tuple[str, Path | None, str | None]]:
    """Resolve CLI paths into files: folders recursively in sorted order; `-` is stdin.

    Yields (display name, path, problem). A path that cannot be read as input
    (missing, a FIFO or device, a folder that cannot be listed, a symlink loop)
    comes with path None and a problem, so the caller writes a record for it
    and goes on. Files of other types inside a folder are skipped with one
    warning per folder.
    """
    for p in paths:
        if p == "-":
            yield "-", None, None
            continue
        path = Path(p)
        if os.path.isdir(path):
            yield from _walk(path, warn)
        elif path.exists():
            try:
                mode = path.stat().st_mode
            except OSError as exc:
                yield display_name(path), None, f"{display_name(path)}: cannot read ({exc.strerror or exc})"
                continue
            problem = None if stat.S_ISREG(mode) else f"{display_name(path)}: {_kind_of(mode)}; not read"
            yield display_name(path), (path if problem is None else None), problem
        elif path.is_symlink():
            yield display_name(path), None, f"{display_name(path)}: broken or looping symbolic link"
        else:
            yield display_name(path), None, f"{display_name(path)}: no such file or folder"


def _walk(root: Path, warn: bool = True) -> Iterator[tuple[str, Path | None, str | None]]:
    """Files under ``root`` in sorted order, following symlinked folders once (loops are reported).

    Hidden entries and Python package files (``__init__.py``, ``__pycache__``) are not data and are
    passed over silently; any other file of another type is counted in one warning.
    """
    seen: set[tuple[int, int]] = set()
    skipped: list[str] = []

    def visit(folder: Path) -> Iterator[tuple[str, Path | None, str | None]]:
        try:
            st = folder.stat()
        except OSError as exc:
            yield display_name(folder), None, f"{display_name(folder)}: cannot open folder ({exc.strerror or exc})"
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:
            yield display_name(folder), None, f"{display_name(folder)}: symbolic link loop; folder read once"
            return
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield display_name(folder), None, f"{display_name(folder)}: cannot list folder ({exc.strerror or exc})"
            return
        for entry in entries:
            if entry.name.startswith((".", "__")):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError:
                is_dir = is_file = False
            if is_dir:
                yield from visit(path)
            elif path.suffix.lower() not in PAGE_SUFFIXES + JSONL_SUFFIXES:
                skipped.append(entry.name)
            elif is_file:
                yield display_name(path), path, None
            elif entry.is_symlink() and not path.exists():
                yield display_name(path), None, f"{display_name(path)}: broken or looping symbolic link"
            else:
                try:
                    kind = _kind_of(path.stat().st_mode)
                except OSError as exc:
                    kind = f"cannot read ({exc.strerror or exc})"
                yield display_name(path), None, f"{display_name(path)}: {kind}; not read"

    yield from visit(root)
    if skipped and warn:
        log.warning("%s: skipped %d file(s) that are neither pages (.txt) nor article files (.jsonl), e.g. %s",
                    display_name(root), len(skipped), skipped[0])


def iter_inputs(paths: list[str]) -> Iterator[InputRecord]:
    """Every input unit of the given paths, in order: pages, JSONL articles, or error records."""
    for name, path, problem in expand_paths(paths):
        yield from read_input(name, path, problem)


def read_input(name: str, path: Path | None, problem: str | None = None) -> Iterator[InputRecord]:
    """The input units of one expanded path (see `expand_paths`); batch engines call it per file."""
    if name == "-":
        yield from _read_stdin()
    elif path is None:
        yield InputRecord(source=name, error=problem or f"{name}: cannot be read")
    elif path.suffix.lower() in JSONL_SUFFIXES:
        yield from read_jsonl(path, name)
    else:
        problems: list[str] = []
        try:
            page = read_page(path, problems)
        except IngestError as exc:
            yield InputRecord(source=name, error=str(exc).replace(str(path), name, 1), size=_size(path))
            return
        page.source = name
        for found in problems:
            log.warning("%s", found)
        yield InputRecord(source=name, page=page, size=_size(path), warnings=problems)


def _read_stdin() -> Iterator[InputRecord]:
    """Stdin holds either JSONL articles (first non-blank char `{`) or one page."""
    data = sys.stdin.buffer.read()
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        yield from jsonl_bytes_records(data, "<stdin>")
        return
    try:
        text, enc, problems = decode_tolerant(data, "<stdin>")
    except IngestError as exc:
        yield InputRecord(source="-", error=str(exc))
        return
    for problem in problems:
        log.warning("%s", problem)
    yield InputRecord(source="-", page=page_from_text(text, source="<stdin>", encoding=enc), warnings=problems)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def input_size(paths: list[str]) -> int | None:
    """Total bytes of the files the paths expand to (None when stdin is among them: size unknown)."""
    total = 0
    for name, path, _ in expand_paths(paths, warn=False):
        if name == "-":
            return None
        if path is not None:
            total += _size(path)
    return total
