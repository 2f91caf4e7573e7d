"""Tests of models.cpu_info and of how the speed path is reported."""
from __future__ import annotations

import os

from healthtag.models import runtime
from healthtag.models.cpu_info import FORCE_AVX2, cpu_info, isa_limits, parse_cpuinfo
from healthtag.training.bench_tag import bench_environment

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD Ryzen 7 5800U with Radeon Graphics
flags\t\t: fpu sse2 avx avx2 fma
processor\t: 1
model name\t: something else
flags\t\t: avx512f
"""


def test_first_processor_model_and_flags_are_read(tmp_path):
    model, flags = parse_cpuinfo(CPUINFO)
    assert model == "AMD Ryzen 7 5800U with Radeon Graphics" and "avx2" in flags and "avx512f" not in flags
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    info = cpu_info(path)
    assert info.flags == ["avx2", "fma"] and "Ryzen" in info.describe()
    assert cpu_info(tmp_path / "absent").model        # no /proc: still names something


def test_forcing_avx2_caps_both_libraries_and_is_reported(monkeypatch):
    env = bench_environment(True)
    assert {k: env[k] for k in FORCE_AVX2} == FORCE_AVX2 and isa_limits(env) == FORCE_AVX2
    assert isa_limits({}) == {}
    monkeypatch.setattr(runtime, "bf16_is_fast", lambda: False)
    for key, value in FORCE_AVX2.items():
        monkeypatch.setenv(key, value)
    assert "capped off by ONEDNN_MAX_CPU_ISA=AVX2" in runtime.describe_precision("bf16")
    for key in FORCE_AVX2:
        monkeypatch.delenv(key)
    assert "this CPU has no native bf16" in runtime.describe_precision("bf16")


SMT_PAIR = """processor\t: 0
model name\t: AMD EPYC 7R13 Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: avx2 fma
processor\t: 1
model name\t: AMD EPYC 7R13 Processor
physical id\t: 0
core id\t\t: 0
flags\t\t: avx2 fma
"""


def test_two_vcpus_on_one_core_are_called_smt(tmp_path, monkeypatch):
    path = tmp_path / "cpuinfo"
    path.write_text(SMT_PAIR)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    info = cpu_info(path)
    assert info.physical_cores == 1
    assert "2 logical CPUs on 1 physical core (SMT)" in info.describe()
    two = SMT_PAIR.split("processor\t: 1")
    path.write_text(two[0] + "processor\t: 1" + two[1].replace("core id\t\t: 0", "core id\t\t: 1"))
    assert cpu_info(path).physical_cores == 2 and "2 cores," in cpu_info(path).describe()
    path.write_text(CPUINFO)                     # no core ids listed: nothing claimed
    assert cpu_info(path).physical_cores is None and "2 cores," in cpu_info(path).describe()


def test_bench_can_pin_its_children_to_a_thread_count():
    env = bench_environment(True, threads=1)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1" and isa_limits(env) == FORCE_AVX2
    assert bench_environment(False).get("OMP_NUM_THREADS") == os.environ.get("OMP_NUM_THREADS")   # no pin unless asked


def test_bench_reports_the_thread_count_torch_uses_in_its_children():
    import os

    from healthtag.training.bench_tag import child_runtime

    pinned = child_runtime(None, {**os.environ, "OMP_NUM_THREADS": "1"})
    assert pinned.threads == "1 (OMP_NUM_THREADS=1)"
    assert pinned.path.startswith("fast path |") and pinned.has_fast_path   # the shipped model, asked in the same child
    free = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    assert child_runtime(None, free).threads.isdigit()


def test_bench_names_the_requested_precision_as_the_path_its_children_run():
    import os

    from healthtag.training.bench_tag import child_runtime

    assert child_runtime(None, dict(os.environ), "int8").path == "fast path | encoder runs in int8, as --precision asks"
    assert "as --precision asks" not in child_runtime(None, dict(os.environ)).path


def test_steady_rate_is_not_a_division_by_nothing():
    """A run no longer than its start-up has no steady rate (it once printed 60 / 1e-9)."""
    import math

    from healthtag.training.bench_tag import steady_rate

    assert steady_rate(100, 12.0, 2.0) == 10.0
    assert math.isnan(steady_rate(60, 8.3, 9.7))
    assert math.isnan(steady_rate(60, 8.3, 8.3))


def test_bench_counts_the_general_news_tagged_without_the_encoder(tmp_path, tiny_model_dir):
    import json

    from healthtag.training.bench_tag import gated_without_network
    from support import ARTICLE

    sports = "本报讯 昨日，市足球协会举办青少年足球联赛开幕式，来自全市的32支球队参加比赛。决赛定于八月举行。"
    path = tmp_path / "mixed.jsonl"
    rows = [{"id": "a", "title": "青少年足球联赛开幕", "text": sports}, {"id": "b", "title": "义诊进乡村", "text": ARTICLE}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert gated_without_network(tiny_model_dir, path) == (1, 2)
