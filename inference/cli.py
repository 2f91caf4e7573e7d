"""The `healthtag` command line (typer).

Each command reads the same inputs (pages, folders, JSONL, `-` for stdin),
writes one JSON line per record to `-o OUT` or stdout, shows progress on
stderr, and keeps going past bad records: they appear in the output with an
`error`, and the exit code stays 0. Only usage errors exit non-zero.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, TextIO

import typer
from tqdm import tqdm

from .article import Article
from .ingest import InputRecord, iter_inputs
from .segment import segment_page
from .textnorm import split_sentences

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Split Chinese health bulletins into articles, tag health-policy topics, write abstracts.",
)

PathsArg = Annotated[list[str], typer.Argument(help="Pages (.txt), folders of them, .jsonl article files, or - for stdin.")]
OutOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")]


@contextmanager
def open_output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        yield fh


def article_from_record(rec: dict, source: str) -> Article:
    """A ready-made JSONL article (not segmented): the text is normalised and split into sentences."""
    from .ingest import page_from_text

    page = page_from_text(rec["text"], source=source)
    body = [p.text for p in page.paragraphs if not p.duplicate]
    sentences = [s for para in body for s in split_sentences(para)]
    return Article(
        id=rec["id"],
        source=source,
        start=0,
        end=len(rec["text"]),
        title=rec.get("title", ""),
        text="\n".join(body),
        sentences=sentences,
    )


def iter_spans(records: Iterator[InputRecord]) -> Iterator[tuple[Article | None, InputRecord]]:
    """Articles and fragments of every input, in order; (None, record) for an unreadable one."""
    for rec in records:
        if rec.error is not None:
            yield None, rec
        elif rec.page is not None:
            for art in segment_page(rec.page):
                yield art, rec
        elif rec.article is not None:
            yield article_from_record(rec.article, rec.source), rec


def _progress(records: Iterator[InputRecord], desc: str) -> Iterator[InputRecord]:
    return tqdm(records, desc=desc, unit=" input", file=sys.stderr, disable=None, leave=False)


@app.command()
def segment(paths: PathsArg, output: OutOpt = None) -> None:
    """Split pages into article and fragment spans: one JSON line per span.

    Offsets `start`/`end` point into the decoded file text. JSONL records are
    already articles and come out as one span each.
    """
    with open_output(output) as out:
        for art, rec in iter_spans(_progress(iter_inputs(paths), "segment")):
            if art is None:
                line = {"source": rec.source, "line": rec.line, "error": rec.error}
            else:
                line = art.segment_record()
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            if rec.error:
                typer.echo(f"warning: {rec.error}", err=True)


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Option(help="Gold file: seed-page spans (file/start/end) for segmentation.")],
    pages: Annotated[Path | None, typer.Option(help="Folder of the pages the gold spans refer to (default: the bundled seeds).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
) -> None:
    """Evaluate against a gold file and print the figures."""
    from healthtag.training.seg_eval import evaluate_segmentation

    if not gold.exists():
        raise typer.BadParameter(f"{gold}: no such file", param_hint="--gold")
    first = json.loads(next(line for line in gold.open(encoding="utf-8") if line.strip()))
    if not {"file", "start", "end"} <= first.keys():
        raise typer.BadParameter(f"{gold}: not a segmentation gold file (needs file/start/end)", param_hint="--gold")
    pages_dir = pages or bundled_seeds_dir()
    report = evaluate_segmentation(gold, pages_dir)
    typer.echo(report.format())
    if json_out:
        json_out.write_text(json.dumps({"segmentation": report.to_dict()}, ensure_ascii=False, indent=2), encoding="utf-8")


def bundled_seeds_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("healthtag.seeds")))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
