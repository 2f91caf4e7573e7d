"""The `healthtag` command line (typer).

Each command reads the same inputs (pages, folders, JSONL, `-` for stdin),
writes one JSON line per record to `-o OUT` or stdout, shows progress on
stderr, and keeps going past bad records: they appear in the output with an
`error`, and the exit code stays 0. Only usage errors exit non-zero.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Iterator, TextIO

import typer
from tqdm import tqdm

from healthtag.resources import bundled_label_model, bundled_seeds_dir

from .article import Article
from .ingest import InputRecord, iter_inputs
from .segment import iter_spans

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


TaxonomyOpt = Annotated[Path | None, typer.Option("--taxonomy", help="Taxonomy/rules YAML (default: the bundled configs/taxonomy.yaml).")]


def _taxonomy(path: Path | None):
    from healthtag.models.taxonomy import TaxonomyError, load_taxonomy

    try:
        return load_taxonomy(path)
    except TaxonomyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--taxonomy") from exc


def error_record(rec: InputRecord) -> dict:
    """The output line for an input that could not be read: it keeps its place and says why."""
    rid = (rec.article or {}).get("id") or (f"{rec.source}:{rec.line}" if rec.line else rec.source)
    return {"id": rid, "source": rec.source, "title": "", "health": None, "labels": [], "summary": None,
            "rule_hits": {}, "error": rec.error}


def rules_record(art: Article, votes, probs: dict[str, float], taxonomy) -> dict:
    from healthtag.training.weak import decide

    health, topics = decide(probs)
    return {
        "id": art.id,
        "source": art.source,
        "title": art.title,
        "health": health,
        "labels": [{"id": t, "name": taxonomy.name_of(t), "score": round(probs[t], 4)} for t in topics],
        "summary": None,
        "rule_hits": {k: v for k, v in votes.terms_by_label().items() if k in topics},
        "rules": [
            {"rule": h.rule, "label": h.label, "vote": h.vote, "weight": h.weight, "hits": h.hits, "terms": list(h.terms)}
            for h in votes.hits
        ],
        "non_health_score": round(probs.get("non_health", 0.0), 4),
        "error": None,
    }


@app.command("weak-label")
def weak_label(paths: PathsArg, output: OutOpt = None, taxonomy: TaxonomyOpt = None) -> None:
    """Label articles with the keyword rules alone (weighted vote), listing every rule that fired.

    Output has the `tag` shape; fragments (ads, stubs) are not labelled.
    """
    from healthtag.models.rules import RuleModel
    from healthtag.training.weak import weighted_vote

    tax = _taxonomy(taxonomy)
    model = RuleModel(tax)
    with open_output(output) as out:
        for art, rec in iter_spans(_progress(iter_inputs(paths), "weak-label")):
            if art is None:
                line = error_record(rec)
                typer.echo(f"warning: {rec.error}", err=True)
            elif art.kind != "article":
                continue
            else:
                votes = model.apply(art)
                line = rules_record(art, votes, weighted_vote(votes, tax), tax)
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _gold_articles(gold: Path) -> tuple[list[Article], list[set[str]]]:
    from healthtag.training.evaluate import load_gold

    try:
        gold_set = load_gold(gold)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--gold") from exc
    return gold_set.articles, gold_set.labels


@app.command("rules-report")
def rules_report(
    paths: Annotated[list[str] | None, typer.Argument(help="Articles to analyse (pages, folders, JSONL). Default: the gold file's texts.")] = None,
    gold: Annotated[Path | None, typer.Option(help="Gold JSONL with labels: adds each rule's empirical precision.")] = None,
    taxonomy: TaxonomyOpt = None,
    top: Annotated[int, typer.Option(help="How many most-conflicted articles to list.")] = 10,
) -> None:
    """Labeling-function analysis: coverage, overlap, conflict, label-model accuracy, gold precision."""
    from healthtag.models.rules import RuleModel
    from healthtag.training.lf_report import analyse, format_report
    from healthtag.training.weak import LabelModel

    tax = _taxonomy(taxonomy)
    model = RuleModel(tax)
    if not paths and not gold:
        raise typer.BadParameter("give articles to analyse, or --gold", param_hint="PATHS")
    arts = [a for a, _ in iter_spans(_progress(iter_inputs(paths or []), "rules-report")) if a is not None and a.kind == "article"]
    gold_sets: list[set[str] | None] = [None] * len(arts)  # unlabeled articles count for coverage only
    if gold:
        arts_g, sets_g = _gold_articles(gold)
        arts, gold_sets = arts + arts_g, gold_sets + list(sets_g)
    votes = [model.apply(a) for a in arts]
    lm = LabelModel(model).fit(votes) if votes else None
    stats, cov, conf = analyse(model, votes, lm, gold_sets if gold else None)
    titles = [a.title for a in arts]
    typer.echo(f"{len(arts)} articles, {len(model.rules)} rules (label model fitted on these articles)")
    typer.echo(format_report(stats, cov, conf, titles, top))


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Option(help="Gold file: seed-page spans (file/start/end) or labelled articles (text/labels).")],
    pages: Annotated[Path | None, typer.Option(help="Folder of the pages that span gold refers to (default: the bundled seeds).")] = None,
    rules_only: Annotated[bool, typer.Option("--rules-only", help="Evaluate the rules (weighted vote and label model) without a trained model.")] = False,
    model: Annotated[Path | None, typer.Option("--model", help="Trained model directory (default: the shipped model).")] = None,
    label_model: Annotated[Path | None, typer.Option(help="A fitted label model (JSON) to use instead of fitting one on the gold texts.")] = None,
    unlabeled: Annotated[list[str] | None, typer.Option(help="Extra unlabeled articles to fit the label model on (repeatable).")] = None,
    taxonomy: TaxonomyOpt = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
) -> None:
    """Evaluate against a gold file and print the figures side by side."""
    if not gold.exists():
        raise typer.BadParameter(f"{gold}: no such file", param_hint="--gold")
    try:
        first = json.loads(next(line for line in gold.open(encoding="utf-8") if line.strip()))
    except (StopIteration, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"{gold}: empty or not JSONL", param_hint="--gold") from exc
    if {"file", "start", "end"} <= first.keys():
        from healthtag.training.seg_eval import evaluate_segmentation

        report = evaluate_segmentation(gold, pages or bundled_seeds_dir())
        typer.echo(report.format())
        result = {"segmentation": report.to_dict()}
    elif {"text", "labels"} <= first.keys():
        if rules_only:
            result = _evaluate_rules(gold, label_model, unlabeled or [], taxonomy)
        else:
            from healthtag.models.topic_model import ModelLoadError
            from healthtag.resources import bundled_model_dir
            from healthtag.training.evaluate import evaluate as evaluate_model

            try:
                result, text = evaluate_model(gold, model or bundled_model_dir())
            except ModelLoadError as exc:
                raise typer.BadParameter(str(exc), param_hint="--model") from exc
            typer.echo(text)
    else:
        raise typer.BadParameter(f"{gold}: neither span gold (file/start/end) nor label gold (text/labels)", param_hint="--gold")
    if json_out:
        json_out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


def _evaluate_rules(gold: Path, label_model: Path | None, unlabeled: list[str], taxonomy: Path | None) -> dict:
    from healthtag.models.rules import RuleModel
    from healthtag.training.evaluate import rule_reports
    from healthtag.training.topic_eval import format_side_by_side
    from healthtag.training.weak import LabelModel

    tax = _taxonomy(taxonomy)
    model = RuleModel(tax)
    arts, gold_sets = _gold_articles(gold)
    votes = [model.apply(a) for a in arts]
    lm = None
    if label_model:
        try:
            lm = LabelModel.load(label_model, model)
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(str(exc), param_hint="--label-model") from exc
        fitted_on = str(label_model)
    elif taxonomy is None and not unlabeled:
        try:  # the label model shipped with the default rules, fitted on the weak-label pool
            lm = LabelModel.load(bundled_label_model(), model)
            fitted_on = "the shipped label model (seeds + corpus + inews train/dev, no gold)"
        except (OSError, ValueError) as exc:
            typer.echo(f"note: shipped label model not usable ({exc}); fitting on the gold texts", err=True)
    if lm is None:
        extra = [a for a, _ in iter_spans(iter_inputs(unlabeled)) if a is not None and a.kind == "article"]
        lm = LabelModel(model).fit(votes + [model.apply(a) for a in extra])
        fitted_on = f"fitted on the {len(arts)} gold texts (labels unused) + {len(extra)} unlabeled articles"

    alone, wv, lmr = rule_reports(votes, gold_sets, tax, lm)
    typer.echo(f"topics on {gold} ({len(arts)} articles); label model: {fitted_on}")
    typer.echo(format_side_by_side([alone, wv, lmr], {lab.id: lab.name for lab in tax.all_labels}))
    better = "label model" if lmr.micro_f1 > wv.micro_f1 else "weighted vote"
    typer.echo(f"better on micro-F1: {better} ({max(lmr.micro_f1, wv.micro_f1):.3f} vs {min(lmr.micro_f1, wv.micro_f1):.3f})")
    return {"topics": {"rules": alone.to_dict(), "weighted_vote": wv.to_dict(), "label_model": lmr.to_dict(), "better": better, "label_model_fitted_on": fitted_on}}


def _existing_ids(path: Path, fmt: str) -> Counter:
    """Ids already written to OUT (for --resume); a torn last line from a crash is cut off."""
    counts: Counter = Counter()
    if not path.exists():
        return counts
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    text = data.decode("utf-8", errors="replace")
    if fmt == "csv":
        import csv
        import io

        for row in csv.DictReader(io.StringIO(text)):
            counts[row.get("id", "")] += 1
        return counts
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                counts[json.loads(line)["id"]] += 1
            except (ValueError, KeyError, TypeError):
                raise typer.BadParameter(f"{path}:{lineno}: not a tag output line; cannot resume", param_hint="--resume")
    return counts


CSV_COLUMNS = ["id", "source", "title", "health", "labels", "label_names", "scores", "summary", "keyphrases",
               "rule_hits", "disagreement", "error"]


def csv_row(rec: dict) -> list[str]:
    labels = rec.get("labels") or []
    return [rec["id"], rec["source"], rec.get("title") or "",
            "" if rec.get("health") is None else str(bool(rec["health"])).lower(),
            ";".join(t["id"] for t in labels), ";".join(t["name"] for t in labels),
            ";".join(f"{t['score']:.4f}" for t in labels), rec.get("summary") or "",
            ";".join(rec.get("keyphrases") or []), json.dumps(rec.get("rule_hits") or {}, ensure_ascii=False),
            ";".join(rec.get("disagreement") or []), rec.get("error") or ""]


@app.command()
def tag(
    paths: PathsArg,
    output: OutOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    model: Annotated[Path | None, typer.Option("--model", help="A trained model directory (default: the shipped model).")] = None,
    rules_only: Annotated[bool, typer.Option("--rules-only", help="Keyword rules only (no encoder); Lead-N abstracts.")] = False,
    summarizer: Annotated[str | None, typer.Option(help="model, lead or textrank (default: model, or lead with --rules-only).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Articles per encoder batch.")] = 16,
    resume: Annotated[bool, typer.Option("--resume", help="Skip articles whose id is already in OUT and append.")] = False,
) -> None:
    """Tag every article with topics and an abstract: one record per article, in input order."""
    from healthtag.inference.predictor import Predictor, error_prediction
    from healthtag.models.topic_model import ModelLoadError

    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("choose jsonl or csv", param_hint="--format")
    if resume and output is None:
        raise typer.BadParameter("--resume needs -o OUT", param_hint="--resume")
    if model is not None and rules_only:
        raise typer.BadParameter("--model and --rules-only exclude each other", param_hint="--rules-only")
    try:
        predictor = Predictor.load(model, rules_only=rules_only, summarizer=summarizer, batch_size=batch_size)
    except (ModelLoadError, ValueError, OSError) as exc:
        typer.echo(f"error: cannot load the model: {exc}", err=True)
        raise typer.Exit(2) from exc
    done = _existing_ids(output, fmt) if resume and output is not None else Counter()
    skipped = sum(done.values())

    def articles():
        """Articles in order; an unreadable input, or a page with no article, becomes one error record."""
        for rec in iter_inputs(paths):
            found = 0
            for art, _ in iter_spans(iter([rec])):
                if art is None:
                    err = error_record(rec)
                    typer.echo(f"warning: {rec.error}", err=True)
                    found += 1
                    yield error_prediction(err["id"], err["source"], rec.error or "unreadable input")
                elif art.kind == "article":
                    found += 1
                    yield art
            if not found:
                message = f"{rec.source}: no article found (empty, blank, or only ads/fragments)"
                typer.echo(f"warning: {message}", err=True)
                yield error_prediction(f"{Path(rec.source).stem}#0", rec.source, message)

    def pending():
        for item in articles():
            if done.get(item.id, 0) > 0:
                done[item.id] -= 1
                continue
            yield item

    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
    mode = "a" if resume else "w"
    out = open(output, mode, encoding="utf-8", newline="") if output is not None else sys.stdout
    n = errors = 0
    try:
        writer = None
        if fmt == "csv":
            import csv

            writer = csv.writer(out)
            appending = resume and output is not None and output.stat().st_size > 0
            if not appending:
                writer.writerow(CSV_COLUMNS)
        bar = tqdm(desc="tag", unit=" article", file=sys.stderr, disable=None)
        for pred in predictor.predict_articles(pending()):
            rec = pred.to_dict()
            if writer is not None:
                writer.writerow(csv_row(rec))
            else:
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()
            n += 1
            errors += rec["error"] is not None
            bar.update(1)
        bar.close()
    finally:
        if output is not None:
            out.close()
    note = f", {skipped} already in {output}" if resume else ""
    typer.echo(f"tagged {n} articles ({errors} with errors{note})", err=True)


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="Training config (YAML), e.g. configs/default.yaml.")],
    out: Annotated[Path | None, typer.Option(help="Model directory to write (default: the config's `out`).")] = None,
) -> None:
    """Train a model from weak labels (same as python -m healthtag.training.train)."""
    from healthtag.training.train import load_config, run

    if not config.exists():
        raise typer.BadParameter(f"{config}: no such file", param_hint="--config")
    run(load_config(config), out=out)


@app.command()
def bench(
    corpus: Annotated[Path, typer.Option(help="Unlabeled articles (JSONL), e.g. ../shared/corpus/health_news.jsonl.")],
    articles: Annotated[int, typer.Option(min=1, help="How many articles to tag per mode.")] = 1000,
    model: Annotated[Path | None, typer.Option(help="Model directory (default: the shipped model).")] = None,
) -> None:
    """Articles/s and peak memory of `healthtag tag`: default model, rules only, TextRank baseline."""
    from healthtag.training.bench_tag import main as bench_main

    if not corpus.exists():
        raise typer.BadParameter(f"{corpus}: no such file", param_hint="--corpus")
    bench_main(["--corpus", str(corpus), "--articles", str(articles), *(["--model", str(model)] if model else [])])


def main() -> None:
    app()


if __name__ == "__main__":
    main()
