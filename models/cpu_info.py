"""What the CPU can do, in the terms that decide the encoder's speed path.

Every speed figure must name the CPU and the path it ran on: the same model
runs about 2.5× faster where oneDNN has native bf16 (AVX512-BF16 or AMX)
than on a plain AVX2 laptop. This reads it from ``/proc/cpuinfo`` (Linux)
without importing torch, so `bench` can print it for its child processes.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

# the ISA extensions that change which kernels oneDNN and ATen pick, in increasing order
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
# environment that caps the ISA of every kernel library torch calls (oneDNN, ATen's own kernels, MKL's
# BLAS, FBGEMM's int8 GEMM): how to measure the common AVX2 case on a bigger CPU
FORCE_AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
              "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2"}


@dataclass
class CpuInfo:
    model: str
    cores: int                # logical CPUs the OS offers
    flags: list[str]          # the SPEED_FLAGS this CPU has
    physical_cores: int | None = None   # distinct (package, core) pairs; None where /proc/cpuinfo does not say

    def describe(self) -> str:
        flags = ' '.join(self.flags) or 'none of ' + ' '.join(SPEED_FLAGS)
        return f"{self.model}, {self.describe_cores()}, flags: {flags}"

    def describe_cores(self) -> str:
        """The core count as ``2 cores``, or the SMT case spelled out.

        Two vCPUs that are the two threads of one physical core share its vector units, so
        an encoder bound by matrix arithmetic runs about as fast there as on one core; a
        speed figure from such a machine is not comparable with one from two real cores.
        """
        if self.physical_cores is None or self.physical_cores >= self.cores:
            return f"{self.cores} cores"
        core_word = "core" if self.physical_cores == 1 else "cores"
        return f"{self.cores} logical CPUs on {self.physical_cores} physical {core_word} (SMT)"


def parse_cpuinfo(text: str) -> tuple[str, set[str]]:
    """Model name and flag set of the first processor listed in /proc/cpuinfo text."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, flags


def physical_cores(text: str) -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo text; None when it lists no core ids (ARM, some VMs)."""
    pairs, package = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            package = "0"
        elif key == "physical id":
            package = value.strip()
        elif key == "core id":
            pairs.add((package, value.strip()))
    return len(pairs) or None


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    model, flags = parse_cpuinfo(text)
    return CpuInfo(model or platform.processor() or platform.machine() or "unknown CPU", os.cpu_count() or 1,
                   [f for f in SPEED_FLAGS if f in flags], physical_cores(text))


def isa_limits(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The ISA caps set in the environment (empty when the CPU runs at its best)."""
    env = os.environ if environ is None else environ
    return {k: env[k] for k in FORCE_AVX2 if env.get(k)}
