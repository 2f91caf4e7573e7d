"""Tests of inference.scale: Ray gives the local records, none lost or doubled, resumable."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from healthtag.inference.predictor import Predictor
from healthtag.inference.records import RecordWriter
from healthtag.inference.tagging import tag_to_writer
from support import FIXTURES, SEEDS

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
from healthtag.inference.scale import RayEngineError, read_shards, tag_with_ray


@pytest.fixture(scope="module")
def ray_local():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[str]:
    """The seed pages, ~300 JSONL articles with one poisoned line, and an unreadable file."""
    base = tmp_path_factory.mktemp("ray-in")
    texts = [json.loads(line) for line in (FIXTURES / "page_articles.jsonl").read_text(encoding="utf-8").splitlines()]
    lines = [json.dumps({"id": f"a{i}", "title": t["title"], "text": t["text"]}, ensure_ascii=False)
             for i, t in enumerate(texts * 25)]
    lines.insert(100, '{"id": "bad", "text": ')          # a torn line: an error record, never a failed job
    (base / "articles.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (base / "binary.txt").write_bytes(b"\x00\x01\x02" * 400)
    return [str(SEEDS), str(base / "articles.jsonl"), str(base / "binary.txt")]


def local_lines(inputs: list[str], model: Path, out: Path, gated: list[int] | None = None) -> list[str]:
    """Records of local tagging, sorted; ``gated`` receives how many it tagged without the encoder."""
    predictor = Predictor.load(model, batch_size=8)
    with RecordWriter(out, "jsonl") as writer:
        tag_to_writer(inputs, predictor, writer)
    if gated is not None:
        gated.append(predictor.gated_without_network)
    return sorted(out.read_text(encoding="utf-8").splitlines())


def shard_lines(out_dir: Path) -> list[str]:
    return sorted(line for p in out_dir.glob("part-*.jsonl") for line in p.read_text(encoding="utf-8").splitlines())


def test_ray_records_equal_local_records_and_resume(ray_local, inputs, tiny_model_dir, tmp_path):
    gated: list[int] = []
    expected = local_lines(inputs, tiny_model_dir, tmp_path / "local.jsonl", gated)
    assert len(expected) > 300 and any('"error": null' not in x for x in expected)
    out = tmp_path / "ray"
    summary = tag_with_ray(inputs, out, model=tiny_model_dir, workers=2, batch_size=8)
    assert shard_lines(out) == expected                              # same records, byte for byte
    assert summary.gated_without_network == gated[0] > 0              # the same articles skipped the encoder
    ids = [r["id"] for r in read_shards(out)]
    assert len(ids) == len(set(ids)) == len(expected)
    assert summary.errors == sum('"error": null' not in x for x in expected) >= 2
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["shards"]) == {p.name for p in out.glob("part-*.jsonl")}

    with pytest.raises(RayEngineError, match="--resume"):
        tag_with_ray(inputs, out, model=tiny_model_dir)               # a second run never overwrites shards

    # an interrupted run: one shard never landed (its units list did), a temporary file was left behind
    lost = sorted(out.glob("part-*.jsonl"))[1]
    lost.unlink()
    (out / ".part-x.jsonl.123.tmp").write_text("torn", encoding="utf-8")
    again = tag_with_ray(inputs, out, model=tiny_model_dir, workers=2, batch_size=8, resume=True)
    assert 0 < again.units - again.skipped_units < again.units        # only the missing units were redone
    assert shard_lines(out) == expected


def test_rules_only_on_ray_with_parquet_shards(ray_local, inputs, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "rules"
    tag_with_ray(inputs[:2], out, rules_only=True, workers=2, parquet=True)
    with RecordWriter(tmp_path / "l.jsonl", "jsonl") as writer:
        tag_to_writer(inputs[:2], Predictor.load(rules_only=True), writer)
    assert shard_lines(out) == sorted((tmp_path / "l.jsonl").read_text(encoding="utf-8").splitlines())
    rows = [r for p in sorted(out.glob("part-*.parquet")) for r in pq.read_table(p).to_pylist()]
    records = list(read_shards(out))
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    assert [json.loads(r["labels"]) for r in rows] == [r["labels"] for r in records]


def test_out_dir_inside_an_input_folder_is_refused(tmp_path):
    (tmp_path / "p.txt").write_text("标题\n\n本报讯 正文。", encoding="utf-8")
    with pytest.raises(RayEngineError, match="inside the input folder"):
        tag_with_ray([str(tmp_path)], tmp_path / "out", rules_only=True)


def test_a_killed_worker_loses_and_doubles_nothing(ray_local, tmp_path):
    """SIGKILL one actor once the first shard has landed: Ray restarts it and retries its batch."""
    import os
    import shutil
    import signal
    import subprocess
    import threading
    import time

    if shutil.which("pgrep") is None:
        pytest.skip("pgrep is needed to find the actor process")
    texts = [json.loads(line) for line in (FIXTURES / "page_articles.jsonl").read_text(encoding="utf-8").splitlines()]
    data = tmp_path / "many.jsonl"
    data.write_text("\n".join(json.dumps({"id": f"k{i}", "title": t["title"], "text": t["text"]}, ensure_ascii=False)
                              for i, t in enumerate(texts * 1000)) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    killed: list[int] = []

    def kill_one_actor() -> None:
        deadline = time.time() + 60
        while not killed and time.time() < deadline:
            time.sleep(0.1)
            if any(out.glob("part-*.jsonl")):
                found = subprocess.run(["pgrep", "-f", "TagActor"], capture_output=True, text=True, check=False).stdout
                pids = [int(p) for p in found.split() if int(p) != os.getpid()]
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])

    killer = threading.Thread(target=kill_one_actor, daemon=True)
    killer.start()
    tag_with_ray([str(data)], out, rules_only=True, workers=2)
    killer.join(timeout=1)
    assert killed, "the run ended before an actor could be killed"
    ids = [r["id"] for r in read_shards(out)]
    assert sorted(ids) == sorted(f"k{i}" for i in range(len(texts) * 1000))
