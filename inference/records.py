"""Writing tag records to JSONL or CSV so that no complete record is ever lost.

The output file is opened without truncation and locked before anything
else happens, so a second writer is refused instead of interleaving, and a
file that is not healthtag output is never overwritten. ``--resume`` finds
the last complete record (for CSV by parsing records, not lines: a quoted
field may hold newlines) and cuts a torn tail with ``ftruncate`` to that
offset, never by rewriting the file; a kill at any instant therefore leaves
every complete record in place. Each record is flushed as soon as it is
written, and a record that cannot be serialised becomes an error record.
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import re
import stat
import sys
from collections import Counter
from pathlib import Path
from typing import BinaryIO, Sequence

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ["id", "source", "title", "health", "labels", "label_names", "scores", "top_label", "top_score",
               "summary", "keyphrases", "rule_hits", "disagreement", "error"]
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_BOM = b"\xef\xbb\xbf"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FORMULA_START = ("=", "+", "-", "@")
csv.field_size_limit(sys.maxsize)


class OutputError(Exception):
    """OUT cannot be used as asked; the message is one sentence naming the file."""


def output_format(path: Path | None, requested: str | None) -> str:
    """The format to write: ``--format`` if given, else the ``-o`` extension, else JSONL; a conflict is an error."""
    if requested is not None and requested not in FORMATS:
        raise OutputError(f"--format must be one of {', '.join(FORMATS)}, not {requested!r}")
    by_extension = _EXTENSIONS.get(path.suffix.lower()) if path is not None else None
    if requested and by_extension and requested != by_extension:
        raise OutputError(f"{path}: --format {requested} conflicts with the {path.suffix} extension")
    return requested or by_extension or "jsonl"


def refuse_input_as_output(out: Path, inputs: Sequence[str], input_suffixes: Sequence[str]) -> None:
    """OUT must not be an input, nor a file the folder walk of an input would read."""
    out_abs = Path(os.path.abspath(out))
    for raw in inputs:
        if raw == "-":
            continue
        src = Path(raw)
        try:
            if src.is_file() and out.exists() and os.path.samefile(src, out):
                raise OutputError(f"{out}: is also an input ({raw}); writing it would destroy the input")
        except OSError:
            continue
        if src.is_dir():
            src_abs = Path(os.path.abspath(src))
            inside = src_abs == out_abs.parent or src_abs in out_abs.parents
            if inside and out.suffix.lower() in input_suffixes:
                raise OutputError(f"{out}: lies inside the input folder {raw} and would be read as input; "
                                  "write it elsewhere")


def csv_cell(value: str) -> str:
    """A text cell Excel shows as written: control characters escaped, formulas defused."""
    value = _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_row(rec: dict, topic_ids: Sequence[str] = ()) -> list[str]:
    labels = rec.get("labels") or []
    scores = {t["id"]: t["score"] for t in labels}
    row = [csv_cell(str(rec.get("id", ""))), csv_cell(str(rec.get("source", ""))), csv_cell(rec.get("title") or ""),
           "" if rec.get("health") is None else str(bool(rec["health"])).lower(),
           ";".join(t["id"] for t in labels), ";".join(t["name"] for t in labels),
           ";".join(f"{t['score']:.4f}" for t in labels),
           labels[0]["id"] if labels else "", f"{labels[0]['score']:.4f}" if labels else "",
           csv_cell(rec.get("summary") or ""), csv_cell(";".join(rec.get("keyphrases") or [])),
           csv_cell(json.dumps(rec.get("rule_hits") or {}, ensure_ascii=False)),
           ";".join(rec.get("disagreement") or []), csv_cell(rec.get("error") or "")]
    for topic in topic_ids:
        row += ["1" if topic in scores else "0", f"{scores[topic]:.4f}" if topic in scores else ""]
    return row


def csv_header(topic_ids: Sequence[str] = ()) -> list[str]:
    return CSV_COLUMNS + [c for t in topic_ids for c in (t, f"{t}_score")]


def json_line(rec: dict) -> bytes:
    """One JSONL line; text that UTF-8 cannot hold (a lone surrogate) is written as a JSON escape."""
    try:
        return (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(rec, ensure_ascii=True) + "\n").encode("ascii")


def write_atomically(path: Path, data: bytes) -> None:
    """Write a whole file through a temporary file and a rename: a kill leaves the old file or the new one, never half.

    For outputs written in one go (shards, reports, review sheets); tag OUT is
    appended record by record instead (see RecordWriter).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)   # a full disk must not leave a hidden half file behind
        raise


def _csv_bytes(row: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(row)
    return buf.getvalue().encode("utf-8", errors="replace")


def _csv_record_ends(data: bytes) -> list[int]:
    """Byte offsets just past each complete CSV record (a newline outside quotes)."""
    ends, quoted = [], False
    for i, byte in enumerate(data):
        if byte == 0x22:          # '"' (an escaped "" toggles twice)
            quoted = not quoted
        elif byte == 0x0A and not quoted:
            ends.append(i + 1)
    return ends


def sniff_format(data: bytes) -> str | None:
    """'jsonl' or 'csv' for an existing healthtag output, None when it is neither (or empty)."""
    head = data[len(_BOM):] if data.startswith(_BOM) else data
    head = head.lstrip()[:200]
    if not head:
        return None
    if head.startswith(b"{"):
        return "jsonl"
    if head.startswith(b"id,source,"):
        return "csv"
    return None


class RecordWriter:
    """Append-safe, locked writer of tag records; use as a context manager.

    Opened before the model loads, so a wrong OUT costs the user nothing.
    ``done`` holds the ids already in OUT (``resume``), with multiplicity.
    """

    def __init__(self, path: Path | None, fmt: str = "jsonl", resume: bool = False, bom: bool = True,
                 topic_ids: Sequence[str] = ()) -> None:
        self.path, self.fmt, self.resume, self.bom = path, fmt, resume, bom
        self.topic_ids = list(topic_ids)
        self.done: Counter = Counter()
        self.written = 0
        self._out: BinaryIO | None = None
        self._good = 0          # offset after the last complete record
        self._fd: int | None = None
        self._started = False
        self._pending_header = False

    # ----------------------------------------------------------------- open

    def __enter__(self) -> "RecordWriter":
        if self.path is None:
            self._out = sys.stdout.buffer
            self._pending_header = self.fmt == "csv"
            return self
        path = self.path
        if path.exists() and not path.is_file():
            kind = "a folder" if path.is_dir() else "not a regular file"
            raise OutputError(f"{path}: is {kind}; -o must name a file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from exc
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            raise OutputError(f"{path}: another healthtag process is writing this file; wait for it or "
                              "choose another -o") from exc
        try:
            self._prepare(path)
        except BaseException:
            os.close(self._fd)
            raise
        self._out = os.fdopen(self._fd, "r+b", buffering=0)
        self._out.seek(self._good)
        self._pending_header = self._good == 0 and self.fmt == "csv"
        return self

    def _prepare(self, path: Path) -> None:
        """Decide where writing starts: after the last complete record (resume) or at 0 (a fresh run)."""
        assert self._fd is not None
        if not stat.S_ISREG(os.fstat(self._fd).st_mode):
            raise OutputError(f"{path}: not a regular file")
        size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, size, 0) if size else b""
        found = sniff_format(data)
        if data.strip(_BOM + b" \r\n\t") and found is None:
            raise OutputError(f"{path}: exists and is not healthtag output; refusing to overwrite it "
                              "(choose another -o or remove the file)")
        if not self.resume:
            self._good = 0             # the old output is replaced once the first record is ready
            return
        if found is not None and found != self.fmt:
            raise OutputError(f"{path}: holds {found} records; --resume cannot append {self.fmt} to it "
                              f"(use --format {found})")
        self._good = self._read_done_csv(path, data) if self.fmt == "csv" else self._read_done_jsonl(path, data)

    def _read_done_jsonl(self, path: Path, data: bytes) -> int:
        end = data.rfind(b"\n") + 1
        for lineno, line in enumerate(data[:end].split(b"\n")[:-1], 1):
            if not line.strip():
                continue
            try:
                self.done[json.loads(line)["id"]] += 1
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                raise OutputError(f"{path}:{lineno}: not a tag output line; cannot resume") from exc
        return end

    def _read_done_csv(self, path: Path, data: bytes) -> int:
        ends = _csv_record_ends(data)
        if not ends:
            return 0                     # not even a whole header: start the file again
        text = data[:ends[-1]].decode("utf-8-sig", errors="replace")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = csv_header(self.topic_ids)
        if rows[0] != header:
            raise OutputError(f"{path}: was written with other CSV columns (check --topic-columns); cannot resume")
        for n, row in enumerate(rows[1:], 2):
            if len(row) != len(header):
                raise OutputError(f"{path}: CSV record {n} has {len(row)} fields, expected {len(header)}; "
                                  "cannot resume")
            self.done[row[0]] += 1
        return ends[-1]

    # ---------------------------------------------------------------- write

    def key(self, record_id: str) -> str:
        """The id as OUT stores it, for matching pending articles against ``done``."""
        return csv_cell(record_id) if self.fmt == "csv" else record_id

    def write(self, rec: dict) -> None:
        try:
            payload = _csv_bytes(csv_row(rec, self.topic_ids)) if self.fmt == "csv" else json_line(rec)
        except Exception as exc:  # noqa: BLE001 - a record that cannot be serialised must not end the run
            fallback = {"id": str(rec.get("id", "")), "source": str(rec.get("source", "")), "title": "",
                        "health": None, "labels": [], "summary": None, "keyphrases": [], "rule_hits": {},
                        "disagreement": [], "error": f"record could not be written ({type(exc).__name__})"}
            payload = _csv_bytes(csv_row(fallback, self.topic_ids)) if self.fmt == "csv" else json_line(fallback)
        self._emit(payload)
        self.written += 1

    def _start(self) -> None:
        """Before the first write: cut OUT to where writing starts (a torn tail, or all of an old output).

        Done here, not on open, so a run that fails before producing anything
        (a model that cannot load) leaves OUT exactly as it was. ``ftruncate``
        only ever shortens the file to the end of its last complete record.
        """
        self._started = True
        if self._fd is not None and os.fstat(self._fd).st_size > self._good:
            os.ftruncate(self._fd, self._good)
        if self._pending_header:
            self._pending_header = False
            self._emit((_BOM if self.bom else b"") + _csv_bytes(csv_header(self.topic_ids)))

    def _emit(self, payload: bytes) -> None:
        assert self._out is not None
        if not self._started:
            self._start()
        try:
            view = memoryview(payload)
            while view:
                n = self._out.write(view)
                view = view[n or len(view):]
            self._out.flush()
        except OSError as exc:
            self._cut_back()
            where = self.path or "stdout"
            raise OutputError(f"{where}: write failed ({exc.strerror or exc}); every complete record "
                              "before it is kept, --resume continues") from exc
        self._good += len(payload)

    def _cut_back(self) -> None:
        """After a failed write, remove the partial record so the file ends on a complete one."""
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, self._good)
            except OSError:
                pass

    def finish(self) -> None:
        """A run that wrote nothing still leaves a valid file (a CSV gets its header; old output is replaced)."""
        if not self._started and self._out is not None:
            self._start()

    def __exit__(self, *exc) -> None:
        if self._out is not None and self.path is not None:
            self._out.close()          # closing the descriptor releases the lock
        self._out = None
