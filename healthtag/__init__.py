"""healthtag: split Chinese health bulletins into articles, tag topics, write abstracts.

The subpackages live in top-level folders (models/, training/, inference/, …)
that setuptools maps into this namespace at install time. When Python imports
this package straight from a source checkout (`python -m healthtag` in the repo
root), that mapping is absent, so the checkout root is added to `__path__`:
`healthtag.inference` then resolves to `<root>/inference`, the same files an
install would map.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_root = _Path(__file__).resolve().parent.parent
if (_root / "pyproject.toml").is_file() and (_root / "inference" / "__init__.py").is_file():
    __path__.append(str(_root))  # type: ignore[name-defined]  # noqa: F821


def __getattr__(name: str):
    """`from healthtag import Predictor` without importing torch for every CLI command."""
    if name == "Predictor":
        from healthtag.inference.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'healthtag' has no attribute {name!r}")
