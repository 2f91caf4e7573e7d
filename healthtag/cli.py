"""The `healthtag` command line (typer): parse options, call one library function, print.

Every command reads the same inputs (pages, folders, JSONL, `-` for stdin),
writes one JSON line per record to `-o OUT` or stdout, shows progress on
stderr, and keeps going past bad records: they appear in the output with an
`error`. Exit codes: 0 when every input produced results, 3 when some inputs
were missing, unreadable or empty (every record is still written), 2 for
usage errors and a model that cannot be loaded (one line; `-v` for the
traceback).
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Iterator

import typer
from tqdm import tqdm

from healthtag import __version__
from healthtag.inference.ingest import (
    JSONL_SUFFIXES,
    PAGE_SUFFIXES,
    InputRecord,
    input_size,
    iter_inputs,
)
from healthtag.inference.records import (
    OutputError,
    RecordWriter,
    output_format,
    refuse_input_as_output,
)
from healthtag.inference.segment import iter_spans
from healthtag.models.model_config import RUNTIMES

EXIT_PARTIAL = 3
EXIT_USAGE = 2

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Split Chinese health bulletins into articles, tag health-policy topics, write abstracts.",
)
log = logging.getLogger("healthtag")
_state = {"verbose": False, "quiet": False}

PathsArg = Annotated[list[str], typer.Argument(help="Pages (.txt), folders of them, .jsonl article files, or - for stdin.")]
OutOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")]
RuntimeOpt = Annotated[str, typer.Option(
    "--runtime", help="auto (the model's fast path where it has one), fast, or full (the full encoder).")]
PrecisionOpt = Annotated[str | None, typer.Option(
    "--precision", help="Encoder arithmetic: bf16, fp32 or int8 (default: bf16 where the CPU has it, else the "
                        "model's validated fallback). int8 is faster on one thread of an AVX2-only CPU (not "
                        "reliably on two) and a little less accurate (README, Speed).")]
TaxonomyOpt = Annotated[Path | None, typer.Option("--taxonomy", help="Taxonomy/rules YAML (default: the bundled configs/taxonomy.yaml).")]


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return text if record.levelno == logging.INFO else f"{record.levelname.lower()}: {text}"


def _setup_logging(verbose: bool, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("healthtag")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO)
    root.propagate = False
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.handlers[:] = [handler]
    warnings_logger.setLevel(logging.ERROR if quiet else logging.WARNING)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"healthtag {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug messages; tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bars, no warnings; errors only.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    _state.update(verbose=verbose, quiet=quiet)
    _setup_logging(verbose, quiet)


def _fail(message: str, exc: BaseException | None = None) -> typer.Exit:
    """One line on stderr (the traceback too with -v), exit 2."""
    if _state["verbose"] and exc is not None:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _progress(records: Iterator[InputRecord], desc: str) -> Iterator[InputRecord]:
    return tqdm(records, desc=desc, unit=" input", file=sys.stderr, disable=True if _state["quiet"] else None,
                leave=False)


def _writer(output: Path | None, paths: list[str], fmt: str = "jsonl", **kwargs) -> RecordWriter:
    if output is not None:
        refuse_input_as_output(output, paths, PAGE_SUFFIXES + JSONL_SUFFIXES)
    return RecordWriter(output, fmt, **kwargs)


def _taxonomy(path: Path | None):
    from healthtag.models.taxonomy import TaxonomyError, load_taxonomy

    try:
        return load_taxonomy(path)
    except TaxonomyError as exc:
        raise _fail(str(exc), exc) from exc


def _span_command(paths: list[str], output: Path | None, desc: str, line_for) -> None:
    """Shared by `segment` and `weak-label`: one record per span (``line_for`` may skip one), errors as records."""
    errors = 0
    try:
        with _writer(output, paths) as out:
            for art, rec in iter_spans(_progress(iter_inputs(paths), desc)):
                if art is None:
                    errors += 1
                    log.warning("%s", rec.error)
                line = line_for(art, rec)
                if line is not None:
                    out.write(line)
            out.finish()
    except OutputError as exc:
        raise _fail(str(exc), exc) from exc
    if errors:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def segment(paths: PathsArg, output: OutOpt = None) -> None:
    """Split pages into article and fragment spans: one JSON line per span.

    Offsets `start`/`end` point into the decoded file text. JSONL records are
    already articles and come out as one span each.
    """
    def line_for(art, rec):
        return {"source": rec.source, "line": rec.line, "error": rec.error} if art is None else art.segment_record()

    _span_command(paths, output, "segment", line_for)


@app.command("weak-label")
def weak_label(paths: PathsArg, output: OutOpt = None, taxonomy: TaxonomyOpt = None) -> None:
    """Label articles with the keyword rules alone (weighted vote), listing every rule that fired.

    Output has the `tag` shape; fragments (ads, stubs) are not labelled.
    """
    from healthtag.inference.rule_records import weak_label_record
    from healthtag.inference.tagging import error_record_id
    from healthtag.models.rules import RuleModel

    model = RuleModel(_taxonomy(taxonomy))

    def line_for(art, rec):
        if art is None:
            return {"id": error_record_id(rec), "source": rec.source, "title": "", "health": None, "labels": [],
                    "summary": None, "rule_hits": {}, "error": rec.error}
        return weak_label_record(model, art) if art.kind == "article" else None

    _span_command(paths, output, "weak-label", line_for)


def _gold(gold: Path, pages: Path | None = None):
    from healthtag.training.gold import GoldError, load_gold

    try:
        return load_gold(gold, pages)
    except GoldError as exc:
        raise _fail(str(exc), exc) from exc


@app.command("rules-report")
def rules_report(
    paths: Annotated[list[str] | None, typer.Argument(help="Articles to analyse (pages, folders, JSONL). Default: the gold file's texts.")] = None,
    gold: Annotated[Path | None, typer.Option(help="Gold JSONL with labels (any gold format the project ships): adds each rule's empirical precision.")] = None,
    pages: Annotated[Path | None, typer.Option(help="Pages folder for page gold (default: the bundled seeds).")] = None,
    taxonomy: TaxonomyOpt = None,
    top: Annotated[int, typer.Option(help="How many most-conflicted articles to list.")] = 10,
) -> None:
    """Labeling-function analysis: coverage, overlap, conflict, label-model accuracy, gold precision."""
    from healthtag.training.lf_report import rules_report as report

    tax = _taxonomy(taxonomy)
    if not paths and not gold:
        raise _fail("give articles to analyse, or --gold")
    arts = [a for a, _ in iter_spans(_progress(iter_inputs(paths or []), "rules-report"))
            if a is not None and a.kind == "article"]
    gold_sets: list[set[str] | None] = [None] * len(arts)   # unlabeled articles count for coverage only
    if gold:
        gold_set = _gold(gold, pages)
        arts, gold_sets = arts + gold_set.articles, gold_sets + list(gold_set.labels)
    typer.echo(report(arts, gold_sets if gold else None, tax, top))


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Option(help="Gold file: seed-page spans (file/start/end) or labelled articles (text/labels).")],
    pages: Annotated[Path | None, typer.Option(help="Folder of the pages that span gold refers to (default: the bundled seeds).")] = None,
    rules_only: Annotated[bool, typer.Option("--rules-only", help="Evaluate the rules (weighted vote and label model) without a trained model.")] = False,
    model: Annotated[Path | None, typer.Option("--model", help="Trained model directory (default: the shipped model).")] = None,
    label_model: Annotated[Path | None, typer.Option(help="A fitted label model (JSON) to use instead of fitting one on the gold texts.")] = None,
    unlabeled: Annotated[list[str] | None, typer.Option(help="Extra unlabeled articles to fit the label model on (repeatable).")] = None,
    taxonomy: TaxonomyOpt = None,
    gate: Annotated[Path | None, typer.Option("--gate", help="General-news gate set (gold format): adds non_health accuracy on it per row.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
    runtime: RuntimeOpt = "auto",
) -> None:
    """Evaluate against a gold file and print the figures side by side."""
    from healthtag.models.model_config import ModelLoadError
    from healthtag.training.gold import GoldError, gold_kind

    if json_out is not None:   # checked before the evaluation, which can take minutes
        from healthtag.inference.records import OutputError, refuse_input_as_output

        if json_out.is_dir():
            raise _fail(f"--json {json_out}: is a folder; name a file")
        try:
            refuse_input_as_output(json_out, [str(p) for p in (gold, gate, label_model, *(unlabeled or [])) if p], ())
        except OutputError as exc:
            raise _fail(f"--json {exc}", exc) from exc
    try:
        kind = gold_kind(gold)
        if kind == "spans":
            from healthtag.resources import bundled_seeds_dir, bundled_seeds_gold
            from healthtag.training.seg_eval import evaluate_segmentation

            seg = evaluate_segmentation(gold, pages or bundled_seeds_dir())
            text, result = seg.format(), {"segmentation": seg.to_dict()}
            if pages is not None and Path(pages).resolve() != bundled_seeds_dir().resolve():
                seeds = evaluate_segmentation(bundled_seeds_gold(), bundled_seeds_dir())  # side by side, as the seeds stay at 1.0
                text += "\nseed pages, for comparison:\n" + seeds.format()
                result["seed_pages"] = seeds.to_dict()
            if _page_gold_has_labels(gold):    # page gold that also labels its articles: their topics too
                topics, topic_text = _topic_evaluation(gold, pages, rules_only, model, label_model, unlabeled,
                                                       taxonomy, gate, runtime)
                text += "\n\ntopics of the labelled page articles (articles as the gold spans cut them):\n" + topic_text
                result.update(topics)
        else:
            result, text = _topic_evaluation(gold, pages, rules_only, model, label_model, unlabeled, taxonomy, gate,
                                             runtime)
    except ModelLoadError as exc:
        raise _fail(f"--model: cannot load the model: {exc}", exc) from exc
    except (GoldError, OSError, ValueError) as exc:
        raise _fail(str(exc), exc) from exc
    typer.echo(text)
    if json_out:
        from healthtag.inference.records import write_atomically

        try:
            write_atomically(json_out, json.dumps(result, ensure_ascii=False, indent=2).encode("utf-8"))
        except OSError as exc:
            raise _fail(f"{json_out}: cannot write the report ({exc})", exc) from exc



def _page_gold_has_labels(gold: Path) -> bool:
    """Whether page gold carries topic labels on its article spans (the seed gold does)."""
    from healthtag.training.gold import read_records

    return any(rec.get("kind", "article") == "article" and isinstance(rec.get("labels"), list)
               for _, rec in read_records(gold))


def _topic_evaluation(gold: Path, pages: Path | None, rules_only: bool, model: Path | None, label_model: Path | None,
                      unlabeled: list[str] | None, taxonomy: Path | None, gate: Path | None,
                      runtime: str) -> tuple[dict, str]:
    """The side-by-side topic table (and ROUGE) of `evaluate`, for the rules or a model."""
    if rules_only:
        from healthtag.training.evaluate import evaluate_rules_on_file

        return evaluate_rules_on_file(gold, _taxonomy(taxonomy), label_model, unlabeled or [],
                                      default_taxonomy=taxonomy is None, pages_dir=pages)
    from healthtag.resources import bundled_model_dir
    from healthtag.training.evaluate import evaluate as evaluate_model

    if runtime not in RUNTIMES:
        raise ValueError(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    return evaluate_model(gold, model or bundled_model_dir(), pages_dir=pages, gate_path=gate, runtime=runtime)


@app.command()
def tag(
    paths: PathsArg,
    output: OutOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl or csv (default: from the -o extension, else jsonl).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="A trained model directory (default: the shipped model).")] = None,
    rules_only: Annotated[bool, typer.Option("--rules-only", help="Keyword rules only (no encoder); Lead-N abstracts.")] = False,
    summarizer: Annotated[str | None, typer.Option(help="model, lead or textrank (default: model, or lead with --rules-only).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Articles per encoder batch.")] = 16,
    resume: Annotated[bool, typer.Option("--resume", help="Skip articles whose id is already in OUT and append.")] = False,
    bom: Annotated[bool, typer.Option("--bom/--no-bom", help="CSV: start with a UTF-8 BOM so Excel reads Chinese.")] = True,
    topic_columns: Annotated[bool, typer.Option("--topic-columns", help="CSV: one 0/1 column and one score column per topic.")] = False,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Let a custom encoder load pickled weights (runs their code: only for sources you trust).")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local, or ray (needs the ray extra, pip install '.\\[ray]'; -o is then a folder of shards).")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster to join (auto, ray://host:10001); default: a local Ray on this machine.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Ray: tagging actors (one predictor each, one CPU each).")] = 2,
    parquet: Annotated[bool, typer.Option("--parquet", help="Ray: also write each shard as Parquet.")] = False,
    runtime: RuntimeOpt = "auto",
    precision: PrecisionOpt = None,
) -> None:
    """Tag every article with topics and an abstract: one record per article, in input order."""
    if engine not in ("local", "ray"):
        raise _fail(f"--engine must be local or ray, not {engine!r}")
    if resume and output is None:
        raise _fail("--resume needs -o OUT")
    if model is not None and rules_only:
        raise _fail("--model and --rules-only exclude each other")
    if runtime not in RUNTIMES:
        raise _fail(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    _check_precision(precision, rules_only)
    if engine == "ray":
        _tag_on_ray(paths, output, model, rules_only, summarizer, batch_size, resume, address, workers, parquet,
                    runtime, precision)
        return
    from healthtag.inference.predictor import Predictor
    from healthtag.inference.tagging import tag_to_writer
    from healthtag.models.encoder import EncoderError
    from healthtag.models.model_config import ModelLoadError

    try:
        fmt = output_format(output, fmt)
        topic_ids = []
        if topic_columns:   # the model's own labels when it was trained on another taxonomy
            from healthtag.resources import bundled_model_dir, model_taxonomy_path

            topic_ids = _taxonomy(None if rules_only else model_taxonomy_path(model or bundled_model_dir())).label_ids
        writer = _writer(output, paths, fmt, resume=resume, bom=bom, topic_ids=topic_ids)
        with writer:
            try:
                predictor = Predictor.load(model, rules_only=rules_only, summarizer=summarizer,
                                           batch_size=batch_size, allow_pickle=allow_pickle, runtime=runtime,
                                           precision=precision)
            except (ModelLoadError, EncoderError, ValueError, OSError) as exc:
                raise _fail(f"cannot load the model: {exc}", exc) from exc
            if predictor.model is not None:
                log.info("%s", predictor.model.runtime_note)
            total = input_size(paths)
            bar = tqdm(desc="tag", total=total, unit="B", unit_scale=True, file=sys.stderr,
                       disable=True if _state["quiet"] else None)
            with bar:
                summary = tag_to_writer(paths, predictor, writer, progress=bar.update if total else None)
    except OutputError as exc:
        raise _fail(str(exc), exc) from exc
    note = f", {summary.skipped} already in {output}" if resume else ""
    note += _gated_note(predictor.gated_without_network)
    log.info("tagged %d articles (%d with errors%s)", summary.written, summary.errors, note)
    if not summary.complete:
        raise typer.Exit(EXIT_PARTIAL)


def _check_precision(precision: str | None, rules_only: bool) -> None:
    from healthtag.models.encoder_settings import PRECISIONS

    if precision is None:
        return
    if precision not in PRECISIONS:
        raise _fail(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if rules_only:
        raise _fail("--precision sets the encoder's arithmetic; --rules-only runs no encoder")


def _gated_note(count: int) -> str:
    """The closing line's clause on articles the rules' health gate excluded without the encoder (local and Ray)."""
    return f"; {count} excluded as general news by the rules' health gate alone, without the encoder" if count else ""


def _tag_on_ray(paths, output, model, rules_only, summarizer, batch_size, resume, address, workers, parquet,
                runtime, precision) -> None:
    from healthtag.inference.scale import RayEngineError, tag_with_ray

    if output is None:
        raise _fail("--engine ray needs -o OUT_DIR (a folder of shards)")
    bar = tqdm(desc="tag (ray)", unit="unit", file=sys.stderr, disable=True if _state["quiet"] else None)
    try:
        with bar:
            summary = tag_with_ray(paths, output, model=model, rules_only=rules_only, summarizer=summarizer,
                                   workers=workers, batch_size=batch_size, address=address, resume=resume,
                                   parquet=parquet, progress=bar.update, runtime=runtime, precision=precision)
    except RayEngineError as exc:
        raise _fail(str(exc), exc) from exc
    gated = _gated_note(summary.gated_without_network)
    log.info("tagged %d articles (%d with errors) into %d shards in %s in %.1f s%s%s", summary.records, summary.errors,
             len(summary.shards), output, summary.seconds,
             f"; {summary.skipped_units} of {summary.units} units were already complete" if resume else "", gated)
    if summary.errors:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="Training config (YAML), e.g. configs/default.yaml.")],
    out: Annotated[Path | None, typer.Option(help="Model directory to write (default: the config's `out`).")] = None,
    labelled: Annotated[list[Path] | None, typer.Option("--labelled", help="Reviewed labels (gold-format JSONL, repeatable): join the weak labels, weighted as clean.")] = None,
    distill: Annotated[bool, typer.Option("--distill/--no-distill", help="Also distil the fast runtime path from the new model and validate it on this CPU (about 30-45 min more on 2 cores). Without it the new model runs its full encoder.")] = False,
    taxonomy: Annotated[Path | None, typer.Option("--taxonomy", help="Taxonomy/rules YAML the weak labels come from (default: the config's `taxonomy`, else the bundled one); the model keeps a copy and tags with it.")] = None,
) -> None:
    """Train a model from weak labels (same as python -m healthtag.training.train)."""
    from healthtag.models.taxonomy import TaxonomyError
    from healthtag.models.typed_config import ConfigError
    from healthtag.training.model_output import ModelOutputError
    from healthtag.training.preflight import MissingInput
    from healthtag.training.train import load_train_config, run

    try:
        cfg = load_train_config(config)
        cfg.data.labelled = [*cfg.data.labelled, *(str(p) for p in labelled or [])]
        if taxonomy is not None:
            cfg.taxonomy = str(taxonomy)
        model_dir = run(cfg, out=out)
        if distill:
            from healthtag.training.distill import run_distill
            from healthtag.training.fast_check import format_record, run_check

            run_distill(cfg, model_dir)
            typer.echo(format_record(run_check(cfg, model_dir)))
        else:
            typer.echo(f"{model_dir} has no fast path, so it runs its full encoder (slow on CPUs without bf16); "
                       f"`healthtag train --distill` or `python -m healthtag.training.distill --config {config} "
                       f"--model {model_dir}` adds one.", err=True)
    except (ConfigError, TaxonomyError) as exc:
        raise _fail(str(exc), exc) from exc
    except (MissingInput, ModelOutputError) as exc:
        raise _fail(str(exc.code).removeprefix("error: "), exc) from exc


def _read_tag_records(paths: list[Path]) -> list[dict]:
    from healthtag.inference.review_queue import TagsFileError, read_tags

    try:
        return [rec for _, _, rec in read_tags(paths)]
    except TagsFileError as exc:
        raise _fail(str(exc), exc) from exc


@app.command()
def report(
    tags: Annotated[list[Path], typer.Argument(help="Tag records (JSONL written by `healthtag tag`).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write (self-contained, opens offline).")],
    title: Annotated[str, typer.Option(help="Page title.")] = "healthtag 报告",
    taxonomy: TaxonomyOpt = None,
) -> None:
    """An offline HTML report: per-topic chart, topic × source/date, the article list with evidence, a review view."""
    from healthtag.inference.report import build_report
    from healthtag.inference.review_queue import TagsFileError, write_output

    records = _read_tag_records(tags)
    tax = _taxonomy(taxonomy)
    names = {lab: tax.name_of(lab) for lab in tax.label_ids}
    try:
        write_output(output, build_report(records, names, title).encode("utf-8"), tags)
    except (TagsFileError, OSError) as exc:
        raise _fail(f"{output}: cannot write the report ({exc})", exc) from exc
    log.info("report of %d articles written to %s", len(records), output)


@app.command()
def review(
    tags: Annotated[list[Path], typer.Argument(help="Tag records (JSONL written by `healthtag tag`).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The CSV to write (UTF-8 with BOM, opens in Excel).")],
    n: Annotated[int, typer.Option("--n", min=1, help="How many articles to put up for review.")] = 100,
) -> None:
    """The articles whose check teaches most, as a CSV to correct and feed back with `train --labelled`."""
    import csv
    import io

    from healthtag.inference.review_queue import (
        TagsFileError,
        review_queue,
        review_rows,
        write_output,
    )

    records = _read_tag_records(tags)
    queue = review_queue(records)[:n]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(review_rows(queue))
    try:
        write_output(output, buf.getvalue().encode("utf-8-sig"), tags)  # the BOM lets Excel read Chinese
    except (TagsFileError, OSError) as exc:
        raise _fail(f"{output}: cannot write the review file ({exc})", exc) from exc
    log.info("%d of %d articles put up for review in %s (edit the health and labels columns)",
             len(queue), len(records), output)


@app.command()
def bench(
    corpus: Annotated[Path, typer.Option(help="Unlabeled articles (JSONL), e.g. ../shared/corpus/health_news.jsonl.")],
    articles: Annotated[int, typer.Option(min=1, help="How many articles to tag per mode.")] = 1000,
    model: Annotated[Path | None, typer.Option(help="Model directory (default: the shipped model).")] = None,
    engine: Annotated[str, typer.Option("--engine", help="local, or ray: 1 and 2 Ray workers against local tag.")] = "local",
    model_articles: Annotated[int, typer.Option(min=1, help="--engine ray: articles for the model runs.")] = 200,
    force_avx2: Annotated[bool, typer.Option("--force-avx2", help="Cap oneDNN, ATen, MKL and FBGEMM at AVX2 (the common laptop path).")] = False,
    runtime: Annotated[str, typer.Option("--runtime", help="Model path to time: both (fast and full side by side), fast or full.")] = "both",
    threads: Annotated[int | None, typer.Option(min=1, help="Pin the timed runs to this many threads (1: a VM whose two vCPUs share one core).")] = None,
    precision: PrecisionOpt = None,
) -> None:
    """Articles/s and peak memory of `healthtag tag`: default model, rules only, TextRank baseline."""
    from healthtag.training.bench_tag import main as bench_main

    _check_precision(precision, False)
    if not corpus.is_file():
        raise _fail(f"{corpus}: no such file (the benchmark reads unlabeled articles from a JSONL corpus)")
    if engine == "ray":
        from healthtag.training.bench_ray import main as bench_ray_main

        bench_ray_main(["--corpus", str(corpus), "--articles", str(articles), "--model-articles", str(model_articles),
                        *(["--model", str(model)] if model else [])])
        return
    bench_main(["--corpus", str(corpus), "--articles", str(articles), *(["--model", str(model)] if model else []),
                *(["--force-avx2"] if force_avx2 else []), "--runtime", runtime,
                *(["--threads", str(threads)] if threads is not None else []),
                *(["--precision", precision] if precision else [])])


def main() -> None:
    app()


if __name__ == "__main__":
    main()
