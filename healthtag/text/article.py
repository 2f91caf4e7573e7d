"""The records that flow from ingestion to tagging.

Every later stage (rules, weak labels, the model, the CLI) consumes `Article`,
so it is deliberately a plain dataclass with no behaviour beyond serialisation:
offsets (`start`, `end`) always point into the *decoded* page text, so that a
user can go back from any tag to the exact place in the source file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SpanKind = Literal["article", "fragment"]


@dataclass
class Article:
    """One article (or non-article fragment) cut from a page, or one JSONL record.

    `text` is the cleaned body: normalised, OCR line breaks repaired, verbatim
    repeated paragraphs dropped, headline/byline/captions/credits removed.
    `sentences` are the body sentences (section headings excluded) that the
    summarizer may extract; `sections` are the in-article section headings.
    For a JSONL record `start`/`end` span the record's own text.
    """

    id: str
    source: str
    start: int
    end: int
    kind: SpanKind = "article"
    title: str = ""
    kicker: str = ""
    subtitle: str = ""
    byline: str = ""
    text: str = ""
    sentences: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    index: int = 0
    warnings: list[str] = field(default_factory=list)   # problems met reading it (bad bytes replaced, …)
    date: str | None = None  # the page's date (YYYY-MM-DD) where its header or footer prints one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def segment_record(self) -> dict[str, Any]:
        """The `healthtag segment` output line (contract in DESIGN.md), plus the extra fields."""
        return {
            "source": self.source,
            "index": self.index,
            "id": self.id,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "title": self.title,
            "kicker": self.kicker,
            "subtitle": self.subtitle,
            "byline": self.byline,
            "text": self.text,
            "sections": self.sections,
            "date": self.date,
        }
