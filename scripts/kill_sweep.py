"""Kill `healthtag tag` at random points and check that `--resume` always finishes with every id exactly once.

For each output format (JSONL, CSV) one OUT goes through: SIGKILL three
times, SIGINT once, a run that hits a full disk (a small file-size limit),
then resumes until done. After every interruption each complete line/record
must be valid; at the end every input id appears exactly once.

    python scripts/kill_sweep.py --articles 2000 --seed 1
    python scripts/kill_sweep.py --articles 400 --model tests-tiny-model-dir   # any model directory

Rules-only by default (fast enough for CI); ``--model`` sweeps a trained model.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_input(path: Path, n: int) -> list[str]:
    """``n`` articles cut from the seed pages, with fresh ids (no data outside the repository needed)."""
    sys.path.insert(0, str(ROOT))
    from healthtag.inference.ingest import read_page
    from healthtag.inference.segment import segment_page

    pool = [a for p in sorted((ROOT / "seeds").glob("*.txt")) for a in segment_page(read_page(p)) if a.kind == "article"]
    ids = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            art = pool[i % len(pool)]
            ids.append(f"sweep-{i}")
            fh.write(json.dumps({"id": ids[-1], "title": art.title, "text": art.text}, ensure_ascii=False) + "\n")
    return ids


def read_ids(out: Path, fmt: str) -> list[str]:
    """Ids of the complete records in OUT; raises if a complete record is invalid."""
    data = out.read_bytes() if out.exists() else b""
    if fmt == "jsonl":
        end = data.rfind(b"\n") + 1
        return [json.loads(line)["id"] for line in data[:end].decode("utf-8").splitlines() if line.strip()]
    text = data.decode("utf-8-sig", errors="strict")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if body and len(body[-1]) != len(header):
        body = body[:-1]                               # a torn last record; resume cuts it
    assert all(len(r) == len(header) for r in body), "a complete CSV record has the wrong number of fields"
    assert header[0] == "id" and sum(1 for r in body if r and r[0] == "id") == 0, "header written twice"
    return [r[0] for r in body]


def run(cmd: list[str], kill_after: float | None, sig: int, fsize: int | None) -> int:
    def limits() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limits)
    if kill_after is None:
        return proc.wait()
    try:
        return proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(sig)
        return proc.wait()


def sweep(fmt: str, n: int, rng: random.Random, model: list[str], work: Path) -> dict:
    src = work / "in.jsonl"
    ids = make_input(src, n)
    out = work / f"out.{fmt}"
    base = [sys.executable, "-m", "healthtag", "-q", "tag", str(src), "-o", str(out), *model]
    started = time.perf_counter()
    rc = run(base, None, 0, None)                       # a full run to time it
    full_seconds = time.perf_counter() - started
    assert rc == 0 and sorted(read_ids(out, fmt)) == sorted(ids)
    out.unlink()
    one = work / "one.jsonl"
    one.write_text(src.read_text(encoding="utf-8").split("\n", 1)[0] + "\n", encoding="utf-8")
    started = time.perf_counter()
    run([sys.executable, "-m", "healthtag", "-q", "tag", str(one), "-o", str(work / f"one.{fmt}"), *model], None, 0, None)
    startup = time.perf_counter() - started
    events = []
    plan = [signal.SIGKILL, "disk full", signal.SIGKILL, signal.SIGINT, signal.SIGKILL]
    for step, sig in enumerate(plan):
        cmd = base if step == 0 else base + ["--resume"]
        done = len(read_ids(out, fmt)) if out.exists() else 0
        if sig == "disk full":                          # a file-size limit a little above what is there
            size = out.stat().st_size if out.exists() else 0
            rc = run(cmd, None, 0, size + 20_000)
            got = read_ids(out, fmt)
            assert rc != 0 and len(got) > done, f"disk full: exit {rc}, {done} -> {len(got)} records"
            events.append(("disk full", rc, len(got)))
            continue
        remaining = (full_seconds - startup) * (1 - done / n)
        rc = run(cmd, startup + rng.uniform(0.05, 0.8) * remaining, sig, None)
        got = read_ids(out, fmt)                         # every complete record is valid
        assert len(got) == len(set(got)), f"duplicate ids after {signal.Signals(sig).name}"
        events.append((signal.Signals(sig).name, rc, len(got)))
    for _ in range(5):
        rc = run(base + ["--resume"], None, 0, None)
        if rc == 0:
            break
    got = read_ids(out, fmt)
    assert rc == 0, f"final resume exited {rc}"
    assert sorted(got) == sorted(ids), f"{len(got)} ids in OUT for {len(ids)} inputs"
    assert len(got) == len(set(got)), "an id appears twice"
    return {"format": fmt, "articles": n, "full_run_s": round(full_seconds, 1), "startup_s": round(startup, 1),
            "events": events}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, default=None, help="a model directory (default: rules only)")
    parser.add_argument("--formats", nargs="+", default=["jsonl", "csv"])
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    model = ["--model", str(args.model)] if args.model else ["--rules-only"]
    for fmt in args.formats:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(sweep(fmt, args.articles, rng, model, Path(tmp))))
    print("kill sweep passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
