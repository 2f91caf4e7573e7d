"""Tests of models.cpu_info and of how the speed path is reported."""
from __future__ import annotations

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
