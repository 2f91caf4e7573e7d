"""The import layers of DESIGN.md, checked by parsing every module's imports (function-level ones too).

Bottom to top: healthtag.text → healthtag.models → healthtag.inference →
healthtag.training → the CLI (healthtag.cli, healthtag.__main__, the
package's lazy `Predictor`). A module may import its own layer and those
below; serving never imports training; no module imports itself in a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"healthtag": "healthtag", "models": "healthtag.models", "inference": "healthtag.inference",
           "training": "healthtag.training", "configs": "healthtag.configs", "seeds": "healthtag.seeds"}
LAYER = {"healthtag.text": 0, "healthtag.resources": 0, "healthtag.configs": 0, "healthtag.seeds": 0,
         "healthtag.models": 1, "healthtag.inference": 2, "healthtag.training": 3,
         "healthtag.cli": 4, "healthtag.__main__": 4, "healthtag": 4}


def modules() -> dict[str, Path]:
    out = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def layer_of(module: str) -> int:
    best = max((k for k in LAYER if module == k or module.startswith(k + ".")), key=len)
    return LAYER[best]


def imports_of(module: str, path: Path) -> set[str]:
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("healthtag")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("healthtag"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {m: {i for i in imports_of(m, p) if i in mods and i != m} for m, p in mods.items()}


def test_every_module_imports_only_its_layer_and_below():
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            if layer_of(target) > layer_of(module):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_serving_never_imports_training():
    serving = [m for m in graph() if layer_of(m) <= LAYER["healthtag.inference"]]
    assert serving, "no serving modules found"
    for module in serving:
        assert not any(t.startswith("healthtag.training") for t in graph()[module]), module


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in g[node]:
            if state.get(nxt) == 1:
                cycle.extend(stack[stack.index(nxt):] + [node, nxt] if nxt in stack else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, stack + [node]):
                return True
        state[node] = 2
        return False

    for start in g:
        if state.get(start) is None and visit(start, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_the_checker_sees_a_violation():
    """The test above would fail on a serving module importing training (guards the checker itself)."""
    assert layer_of("healthtag.training.train") > layer_of("healthtag.inference.predictor")
    assert "healthtag.models.evidence" in graph()["healthtag.inference.rule_records"]
    assert "healthtag.inference.ingest" in graph()["healthtag.cli"]
