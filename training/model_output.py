"""Writing a trained model directory so that no failed, killed or misdirected run can spoil one.

Why: training writes a model as several files (heads, tuned layers, vocabulary,
config with thresholds, evaluation, model card). Written in place, a run that
dies half-way through leaves new heads next to old thresholds, or the shipped
model without its fast path, and nothing says so. A wrong ``--out`` pointed at
a folder of the user's own files would get model files written among them.
So the new model is built in a hidden sibling folder and swapped in only when
it is complete; the old one stays untouched until then.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

log = logging.getLogger(__name__)

MODEL_MARKER = "config.json"


class ModelOutputError(SystemExit):
    """The output path cannot take a model (raised before any training work; printed as ``error: …``, exit 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def check_model_output(out: Path, own_files: Iterable[str | Path | None] = ()) -> None:
    """Refuse an output that is a file, or a non-empty folder that holds no model, before training starts.

    ``own_files``: files the run writes itself (a label model saved into ``out``); a folder
    holding only those is one an earlier run of the same config began.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ModelOutputError(f"{out}: is a file; the model output must be a folder")
    own = {Path(f).resolve() for f in own_files if f}
    others = [f for f in out.iterdir() if f.resolve() not in own] if out.is_dir() else []
    if others and not (out / MODEL_MARKER).is_file():
        raise ModelOutputError(f"{out}: is a non-empty folder with no model in it (no {MODEL_MARKER}); "
                               "refusing to write a model among its files: choose a new or empty folder")
    for stale in sorted(out.parent.glob(f".{out.name}.new-*")) if out.parent.is_dir() else []:
        log.warning("%s: the unfinished build of a run that did not complete (delete it once no training "
                    "writes to %s)", stale, out)
    leftovers = sorted(out.parent.glob(f".{out.name}.old-*")) if out.parent.is_dir() else []
    if leftovers and not out.exists():
        raise ModelOutputError(f"{out}: missing, but {leftovers[0]} holds the model a killed run was replacing; "
                               f"rename it back to {out} (or delete it) and run again")


@contextmanager
def staged_model_dir(out: Path, drop: Iterable[str] = (),
                     own_files: Iterable[str | Path | None] = ()) -> Iterator[Path]:
    """A fresh folder to build the model in, swapped in for ``out`` when the block completes.

    Files of the previous model that the new run does not write (a diagnosis, say) are
    carried over first, except those named in ``drop`` (a fast path distilled from the old
    weights would not reproduce the new ones). If the block raises, the staging folder is
    removed and ``out`` is exactly as it was. ``own_files`` as in `check_model_output`: what
    the run itself has put into ``out`` (a label model saved there, say) must not make it
    refuse at the end of an hour's training.
    """
    out = Path(out)
    check_model_output(out, own_files)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    os.chmod(stage, _folder_mode(out))   # mkdtemp's 0700 would otherwise become the model's
    try:
        dropped = set(drop)
        if out.is_dir():
            for f in out.iterdir():
                if f.is_file() and f.name not in dropped:
                    shutil.copy2(f, stage / f.name)
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _swap_in(stage, out)


def _folder_mode(out: Path) -> int:
    """The previous model folder's permissions, or what a plain mkdir would give under the umask."""
    if out.is_dir():
        return out.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _swap_in(stage: Path, out: Path) -> None:
    """Two renames: the old model aside, the new one in its place; then the old one goes.

    A kill between the renames (microseconds) leaves ``out`` missing and the old model in
    a hidden ``.NAME.old-*`` sibling, which `check_model_output` then points the user to.
    """
    if not out.exists():
        os.replace(stage, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rmdir(old)
    os.replace(out, old)
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)
    log.debug("model swapped into %s", out)


__all__ = ["ModelOutputError", "check_model_output", "staged_model_dir"]
