"""`healthtag tag` as a library function: inputs → articles → predictions → a record writer.

Every input is accounted for: an unreadable file, a malformed JSONL line, or
a page with no article becomes one error record that keeps its place in the
output. The CLI only parses options and prints; this module does the work,
so the Python API, the CLI and batch engines share one path.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from healthtag.text.article import Article

from .ingest import InputRecord, iter_inputs
from .predictor import Prediction, Predictor, error_prediction
from .records import RecordWriter
from .segment import iter_spans

log = logging.getLogger(__name__)


@dataclass
class TagSummary:
    written: int = 0
    errors: int = 0
    skipped: int = 0                       # already in OUT (resume)
    input_errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every input produced results (the exit code is 0 then)."""
        return self.errors == 0


def error_record_id(rec: InputRecord) -> str:
    """The id of an input that could not be read: its own id, else ``source:line``, else the source."""
    return (rec.article or {}).get("id") or (f"{rec.source}:{rec.line}" if rec.line else rec.source)


def input_articles(records: Iterable[InputRecord]) -> Iterator[Article | Prediction]:
    """Articles in input order; an unreadable input, or a page with no article, becomes one error prediction."""
    for rec in records:
        found = 0
        for art, _ in iter_spans(iter([rec])):
            if art is None:
                log.warning("%s", rec.error)
                found += 1
                yield error_prediction(error_record_id(rec), rec.source, rec.error or "unreadable input")
            elif art.kind == "article":
                found += 1
                yield art
            elif rec.article is not None:
                found += 1          # a `segment` fragment line: not an article, skipped as in its page
        if not found:
            message = f"{rec.source}: no article found (empty, blank, or only ads/fragments)"
            log.warning("%s", message)
            yield error_prediction(f"{Path(rec.source).stem}#0", rec.source, message)


def tag_to_writer(paths: list[str], predictor: Predictor, writer: RecordWriter,
                  progress: Callable[[int], object] | None = None,
                  records: Iterable[InputRecord] | None = None) -> TagSummary:
    """Tag every article of ``paths`` into ``writer`` (skipping the ids it already holds).

    ``progress`` is called with the input bytes each finished input covered.
    """
    summary = TagSummary()
    done = writer.done.copy()
    summary.skipped = sum(done.values())

    def counted(source: Iterable[InputRecord]) -> Iterator[InputRecord]:
        for rec in source:
            yield rec
            if progress is not None and rec.size:
                progress(rec.size)

    def pending() -> Iterator[Article | Prediction]:
        for item in input_articles(counted(records if records is not None else iter_inputs(paths))):
            key = writer.key(item.id)
            if done.get(key, 0) > 0:
                done[key] -= 1
                if isinstance(item, Prediction) and item.error is not None:
                    summary.errors += 1          # still unreadable: the exit code must say so on resume too
                continue
            yield item

    for pred in predictor.predict_articles(pending()):
        rec = pred.to_dict()
        writer.write(rec)
        summary.written += 1
        if rec["error"] is not None:
            summary.errors += 1
            summary.input_errors.append(rec["error"])
    writer.finish()
    return summary
