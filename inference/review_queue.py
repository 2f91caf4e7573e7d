"""Which tagged articles a reviewer should check first, and why.

Shared by the HTML report ("needs review" view) and `healthtag review` (a CSV
for spreadsheet users), so both pick the same articles for the same reasons:
a label whose score lies near its threshold, rules and network that disagree,
and labels that are rare in the batch (few examples, so each check teaches
most and errors hide there).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .ingest import IngestError, json_objects
from .records import write_atomically

RARE_SHARE = 0.02  # a label on fewer than 2 % of the batch's health articles (and < 5 of them) is rare
RARE_MAX = 5


class TagsFileError(ValueError):
    """A tags file line that is not a `healthtag tag` record; the message names file and line."""


@dataclass
class Reviewable:
    record: dict
    reasons: list[str] = field(default_factory=list)

    @property
    def priority(self) -> tuple[int, float]:
        """More reasons first; then the article whose closest label score is nearest 0.5."""
        scores = [lab.get("score", 0.0) for lab in self.record.get("labels") or []]
        closeness = min((abs(s - 0.5) for s in scores), default=0.5)
        return (-len(self.reasons), closeness)


def read_tags(paths: Iterable[str | Path]) -> Iterator[tuple[str, int, dict]]:
    """(file, line, record) of every tag record; a bad line raises TagsFileError naming it."""
    for path in map(Path, paths):
        try:
            text = path.read_text(encoding="utf-8-sig")
            records = json_objects(path, text, "tag record")
        except OSError as exc:
            raise TagsFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        except (IngestError, UnicodeDecodeError) as exc:
            raise TagsFileError(str(exc)) from exc
        for lineno, rec in records:
            if "id" not in rec or "labels" not in rec:
                raise TagsFileError(f"{path}:{lineno}: not a `healthtag tag` record (needs id and labels)")
            yield str(path), lineno, rec


def rare_labels(records: list[dict]) -> set[str]:
    health = [r for r in records if r.get("health")]
    counts = Counter(lab["id"] for r in health for lab in r.get("labels") or [])
    limit = min(RARE_MAX, max(1, int(RARE_SHARE * len(health))))
    return {lab for lab, n in counts.items() if n < limit}


def review_reasons(rec: dict, rare: set[str]) -> list[str]:
    if rec.get("error"):
        return []
    reasons = [f"near_threshold:{lab}" for lab in rec.get("near_threshold") or []]
    reasons += [f"rules_vs_network:{lab}" for lab in rec.get("disagreement") or []]
    reasons += [f"rare:{lab['id']}" for lab in rec.get("labels") or [] if lab["id"] in rare]
    return reasons


def review_queue(records: list[dict]) -> list[Reviewable]:
    """Every article with at least one reason to check it, most informative first."""
    rare = rare_labels(records)
    items = [Reviewable(r, review_reasons(r, rare)) for r in records]
    return sorted((it for it in items if it.reasons), key=lambda it: it.priority)


REVIEW_COLUMNS = ["id", "source", "date", "title", "health", "labels", "why", "predicted", "summary", "text"]


def review_rows(items: list[Reviewable]) -> Iterator[list[str]]:
    """CSV rows a reviewer edits: `health` (1/0) and `labels` (topic ids, `;`-separated) start as predicted."""
    yield REVIEW_COLUMNS
    for it in items:
        r = it.record
        ids = [lab["id"] for lab in r.get("labels") or []]
        predicted = "; ".join(f"{lab['id']}={lab.get('score', 0):.2f}" for lab in r.get("labels") or [])
        yield [str(r.get("id", "")), str(r.get("source", "")), str(r.get("date") or ""), str(r.get("title") or ""),
               "1" if r.get("health") else "0", "; ".join(ids), "; ".join(it.reasons), predicted,
               str(r.get("summary") or ""), str(r.get("text") or "")]


def write_output(out: Path, data: bytes, inputs: Iterable[str | Path]) -> None:
    """Write OUT whole (temporary file, then rename); an input is never OUT."""
    out = Path(out)
    for src in inputs:
        if out.exists() and Path(src).exists() and out.resolve() == Path(src).resolve():
            raise TagsFileError(f"{out}: is also an input; writing it would destroy the input")
    write_atomically(out, data)
