"""Helpers shared by several test modules (on the pytest path via pyproject)."""
from __future__ import annotations

import json
from pathlib import Path

from healthtag.text.article import Article

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
FIXTURES = ROOT / "tests" / "fixtures"


MINI = """
version: 1
labels:
  - id: outreach_clinic
    name: 义诊与健康下乡
    rules:
      - {name: kw, kind: keywords, min_hits: 2, terms: [义诊, 下乡]}
      - {name: ttl, kind: title, weight: 1.5, terms: [义诊]}
      - {name: rx, kind: regex, scope: [body], pattern: "免费(?:体检|筛查)"}
      - {name: co, kind: cooccur, groups: [[走进, 来到], [村, 社区], [义诊, 咨询]]}
      - {name: no_animals, kind: veto, weight: 2.0, terms: [兽医]}
non_health:
  rules:
    - {name: low, kind: density, below: 5.0, terms: [医, 病, 健康]}
    - {name: high, kind: density, above: 20.0, vote: -1, terms: [医, 病, 健康]}
"""


def art(text: str, title: str = "") -> Article:
    return Article(id="t", source="t", start=0, end=len(text), title=title, text=text, sentences=[s + "。" for s in text.split("。") if s])


ARTICLE = "市中心医院组织专家团队走进安山乡开展义诊活动，为群众免费测量血压、血糖。活动共服务村民300余人次。"


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def assert_spans_partition(page, spans) -> None:
    """Every non-blank character of the page lies in exactly one span, spans in page order."""
    cover = [0] * len(page.text)
    for a in spans:
        assert 0 <= a.start < a.end <= len(page.text)
        assert a.kind in ("article", "fragment")
        for i in range(a.start, a.end):
            cover[i] += 1
    for i, ch in enumerate(page.text):
        if ch.isspace():
            assert cover[i] <= 1
        else:
            assert cover[i] == 1, (i, ch)
    assert [a.start for a in spans] == sorted(a.start for a in spans)


def load_script(name: str):
    """A module of scripts/ (not a package: the scripts run as files), loaded for its functions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
