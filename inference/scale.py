"""Batch tagging on Ray Data: the local `healthtag tag` path, spread over workers.

Why Ray: it installs from pip (``pip install ".[ray]"``), local mode is the
same code as a cluster (``--address``), and a stateful actor per worker loads
the encoder once (`map_batches` with a callable class). Each worker runs the
very functions `healthtag tag` runs (`ingest.read_input`,
`tagging.input_articles`, `Predictor.predict_articles`, `records.json_line`),
so a record from Ray is byte for byte the local record.

Work is cut into *units*: one page file, or a chunk of lines of a JSONL file
or rows of a Parquet file (`id`, `title`, `text`). The driver only expands
paths and reads article files; segmentation and tagging run in the workers.

Output: OUT_DIR/part-<first unit>-<hash>.jsonl shards (and .parquet beside
them with ``--parquet``: scalar fields as columns, nested ones as JSON text). A worker writes the
list of units a shard holds (`.units.json`) and then the shard, each through a
temporary file and a rename, so a shard is either whole or absent; a retried
batch (Ray retries a killed worker's task) writes the same name again, so no
id is ever duplicated. ``--resume`` skips the units of the shards present.
`manifest.json` maps inputs to shards.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .ingest import JSONL_SUFFIXES, InputRecord, expand_paths, read_input, read_jsonl
from .predictor import Predictor, error_prediction
from .records import json_line, write_atomically
from .tagging import error_record_id, input_articles

log = logging.getLogger(__name__)

PARQUET_SUFFIXES = (".parquet",)
ARTICLES_PER_UNIT = 32
SHARD_GLOB = "part-*.jsonl"


class RayEngineError(RuntimeError):
    """The Ray run cannot start as asked (extra missing, OUT_DIR unusable); one sentence."""


@dataclass
class RaySummary:
    units: int = 0
    skipped_units: int = 0          # already complete in OUT_DIR (resume)
    records: int = 0
    errors: int = 0
    gated_without_network: int = 0  # general news the rules' gate excluded alone, tagged without the encoder
    shards: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------- units (driver side)


def _record_unit(records: list[InputRecord], name: str, first: int) -> dict:
    return {"key": f"{name}:{first}", "kind": "records", "name": name,
            "records": [{"source": r.source, "article": r.article, "line": r.line, "error": r.error} for r in records]}


def _chunks(records: Iterator[InputRecord], name: str) -> Iterator[dict]:
    batch: list[InputRecord] = []
    first = 1
    for rec in records:
        if not batch:
            first = rec.line or first
        batch.append(rec)
        if len(batch) >= ARTICLES_PER_UNIT:
            yield _record_unit(batch, name, first)
            batch = []
    if batch:
        yield _record_unit(batch, name, first)


def _parquet_records(path: Path, name: str) -> Iterator[InputRecord]:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    missing = {"id", "text"} - set(table.schema_arrow.names)
    if missing:
        yield InputRecord(source=name, error=f"{name}: a Parquet input needs columns id, title, text (missing: {', '.join(sorted(missing))})")
        return
    columns = [c for c in ("id", "title", "text") if c in table.schema_arrow.names]
    row = 0
    for batch in table.iter_batches(batch_size=ARTICLES_PER_UNIT, columns=columns):
        for rec in batch.to_pylist():
            row += 1
            if not isinstance(rec.get("text"), str) or rec.get("id") in (None, ""):
                yield InputRecord(source=name, line=row, article={"id": str(rec.get("id") or "")} if rec.get("id") else None,
                                  error=f"{name}:{row}: a row needs a string id and text")
                continue
            yield InputRecord(source=name, line=row,
                              article={"id": str(rec["id"]), "title": rec.get("title") or "", "text": rec["text"]})


def work_units(inputs: list[str]) -> Iterator[dict]:
    """The units of the inputs, in input order (keys are stable across runs, for --resume)."""
    for name, path, problem in expand_paths(inputs):
        if path is None or name == "-":
            yield {"key": name, "kind": "error", "name": name, "problem": problem or f"{name}: cannot be read"}
        elif path.suffix.lower() in JSONL_SUFFIXES:
            yield from _chunks(read_jsonl(path, name), name)
        elif path.suffix.lower() in PARQUET_SUFFIXES:
            yield from _chunks(_parquet_records(path, name), name)
        else:
            yield {"key": name, "kind": "page", "name": name, "path": str(path)}


# ---------------------------------------------------------------- workers


def _unit_records(unit: dict) -> Iterator[InputRecord]:
    if unit["kind"] == "page":
        yield from read_input(unit["name"], Path(unit["path"]))
    elif unit["kind"] == "error":
        yield InputRecord(source=unit["name"], error=unit["problem"])
    else:
        for r in unit["records"]:
            yield InputRecord(source=r["source"], article=r["article"], line=r["line"], error=r["error"])


def shard_name(keys: list[str], first: int) -> str:
    digest = hashlib.sha1("\n".join(keys).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"part-{first:09d}-{digest}.jsonl"


class TagActor:
    """One predictor per Ray actor; each call tags a batch of units into one shard."""

    def __init__(self, out_dir: str, model: str | None, rules_only: bool, summarizer: str | None, batch_size: int,
                 parquet: bool = False, runtime: str = "auto", precision: str | None = None):
        self.out_dir = Path(out_dir)
        self.parquet = parquet
        self.predictor = Predictor.load(Path(model) if model else None, rules_only=rules_only,
                                        summarizer=summarizer, batch_size=batch_size, runtime=runtime,
                                        precision=precision)

    def records_of(self, unit: dict) -> list[dict]:
        try:
            return [p.to_dict() for p in self.predictor.predict_articles(input_articles(_unit_records(unit)))]
        except Exception as exc:  # noqa: BLE001 - one bad unit becomes an error record, never a failed job
            rec = InputRecord(source=unit["name"], error=f"{unit['name']}: could not be tagged ({type(exc).__name__}: {exc})")
            return [error_prediction(error_record_id(rec), rec.source, rec.error).to_dict()]

    def __call__(self, batch: dict) -> dict:
        units = [json.loads(u) for u in batch["unit"]]
        keys = [u["key"] for u in units]
        lines: list[bytes] = []
        errors = 0
        gated_before = self.predictor.gated_without_network
        for unit in units:
            for rec in self.records_of(unit):
                lines.append(json_line(rec))
                errors += rec.get("error") is not None
        name = shard_name(keys, int(min(batch["n"])))
        write_atomically(self.out_dir / (name[:-6] + ".units.json"), json.dumps(keys, ensure_ascii=False).encode("utf-8"))
        if self.parquet:
            write_atomically(self.out_dir / (name[:-6] + ".parquet"), parquet_bytes(lines))
        write_atomically(self.out_dir / name, b"".join(lines))  # last: the JSONL shard marks the batch complete
        return {"shard": [name], "units": [len(units)], "records": [len(lines)], "errors": [errors],
                "gated": [self.predictor.gated_without_network - gated_before]}


NESTED_FIELDS = ("labels", "keyphrases", "rule_hits", "disagreement", "warnings", "rule_spans", "near_threshold")


def parquet_bytes(lines: list[bytes]) -> bytes:
    """The shard as Parquet: scalar fields as columns, nested ones as JSON text (their keys vary per record)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for line in lines:
        rec = json.loads(line)
        rows.append({k: (json.dumps(v, ensure_ascii=False) if k in NESTED_FIELDS else v) for k, v in rec.items()})
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


# ---------------------------------------------------------------- driver


def completed_units(out_dir: Path) -> dict[str, str]:
    """unit key -> shard, for every whole shard in OUT_DIR (a units list without its shard does not count)."""
    done: dict[str, str] = {}
    for shard in sorted(out_dir.glob(SHARD_GLOB)):
        units = shard.with_name(shard.name[:-6] + ".units.json")
        if units.exists():
            for key in json.loads(units.read_text(encoding="utf-8")):
                done[key] = shard.name
    return done


def _prepare_out_dir(out_dir: Path, inputs: list[str], resume: bool) -> None:
    out_abs = out_dir.resolve()
    for raw in inputs:
        src = Path(raw).resolve()
        if src.is_dir() and (out_abs == src or src in out_abs.parents):
            raise RayEngineError(f"{out_dir}: lies inside the input folder {raw}; its shards would be read back as input")
    if out_dir.exists() and not out_dir.is_dir():
        raise RayEngineError(f"{out_dir}: is a file; --engine ray writes a folder of shards")
    if out_dir.exists() and any(out_dir.glob(SHARD_GLOB)) and not resume:
        raise RayEngineError(f"{out_dir}: already holds shards; pass --resume to continue that run, or choose a new folder")
    out_dir.mkdir(parents=True, exist_ok=True)


def tag_with_ray(inputs: list[str], out_dir: str | Path, *, model: str | Path | None = None, rules_only: bool = False,
                 summarizer: str | None = None, workers: int = 2, batch_size: int = 16, units_per_batch: int | None = None,
                 address: str | None = None, resume: bool = False, parquet: bool = False, progress=None,
                 runtime: str = "auto", precision: str | None = None) -> RaySummary:
    """Tag every article of `inputs` on Ray into shards in `out_dir`; `progress(n_units)` after each batch."""
    try:
        import ray
    except ImportError as exc:
        raise RayEngineError('--engine ray needs the Ray extra: pip install "healthtag[ray]"') from exc
    started = time.perf_counter()
    out = Path(out_dir)
    _prepare_out_dir(out, inputs, resume)
    done = completed_units(out) if resume else {}
    units = list(work_units(inputs))
    todo = [(i, u) for i, u in enumerate(units) if u["key"] not in done]
    summary = RaySummary(units=len(units), skipped_units=len(units) - len(todo))
    if todo:
        # enough batches to keep every worker busy to the end, few enough that shards stay large
        units_per_batch = units_per_batch or max(1, min(8, len(todo) // (workers * 8)))
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False            # our own bar counts units; Ray's would interleave with it
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True)
        ds = ray.data.from_items([{"unit": json.dumps(u, ensure_ascii=False), "n": i} for i, u in todo],
                                 override_num_blocks=max(1, min(len(todo), workers * 4)))
        results = ds.map_batches(
            TagActor, batch_size=units_per_batch, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
            fn_constructor_kwargs={"out_dir": str(out.resolve()), "model": str(model) if model else None,
                                   "rules_only": rules_only, "summarizer": summarizer, "batch_size": batch_size,
                                   "parquet": parquet, "runtime": runtime, "precision": precision},
            max_task_retries=3, max_restarts=3,
        )
        for row in results.iter_rows():
            summary.records += int(row["records"])
            summary.errors += int(row["errors"])
            summary.gated_without_network += int(row["gated"])
            if progress is not None:
                progress(int(row["units"]))
    final = completed_units(out)
    summary.shards = sorted(set(final.values()))
    manifest = {"inputs": inputs, "units": len(units),
                "shards": {s: [k for k, v in final.items() if v == s] for s in summary.shards}}
    write_atomically(out / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    summary.seconds = time.perf_counter() - started
    return summary


def read_shards(out_dir: str | Path) -> Iterator[dict]:
    """Every record of a Ray run's shards, in shard order."""
    for shard in sorted(Path(out_dir).glob(SHARD_GLOB)):
        with open(shard, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)
