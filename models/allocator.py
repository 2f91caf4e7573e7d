"""Keep the encoder's large activation buffers in the process instead of handing them back to the OS.

Each encoder batch allocates a few tensors of 5–25 MB (16 windows × 256 tokens × 1,536 feed-forward
neurons in fp32 is 25 MB) and frees them a few milliseconds later. glibc serves blocks that large
with ``mmap`` and returns them with ``munmap``, so every batch touches fresh pages: on the one-thread
AVX2 path, 120 corpus articles cost about half a million page faults and a second of kernel time, and
the kernels that first write those pages (the bias copy before a matrix product, GELU) ran several
times slower than on warm memory. Raising glibc's mmap threshold to its maximum (32 MB on 64-bit) and
its trim threshold keeps freed blocks on the heap for the next batch. It changes no arithmetic, only
where buffers live, so every output is bit-identical; see docs/speed.md for the measurement.

Only glibc has these settings (musl, macOS and Windows allocators behave differently and are left
alone). Setting ``HEALTHTAG_SYSTEM_MALLOC=1`` leaves the allocator untouched, for a host process
that tunes its own.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD = -1     # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024    # glibc's upper limit for the mmap threshold on 64-bit
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024   # free heap top kept before any is returned to the OS

_applied: bool | None = None


def why_not_tuned(environ: dict[str, str] | None = None) -> str | None:
    """Why a process with this environment keeps the system allocator's defaults (None: it tunes them).

    `healthtag bench` prints it, since a speed figure depends on it.
    """
    environ = os.environ if environ is None else environ
    if environ.get("HEALTHTAG_SYSTEM_MALLOC") == "1":
        return "HEALTHTAG_SYSTEM_MALLOC=1"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "not glibc"
    return None


def describe(environ: dict[str, str] | None = None) -> str:
    reason = why_not_tuned(environ)
    return ("glibc keeps freed encoder buffers (HEALTHTAG_SYSTEM_MALLOC=1 turns it off)" if reason is None
            else f"system defaults ({reason})")


def keep_freed_buffers() -> bool:
    """Tune glibc once per process so freed encoder buffers are reused; True where it took effect.

    Process-wide and idempotent: the first call decides, later calls return its result.
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if why_not_tuned() is not None:
        return _applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _applied
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                       TRIM_THRESHOLD_BYTES))
    return _applied
