"""Tests of models.taxonomy."""
from __future__ import annotations

from pathlib import Path

import pytest
from healthtag.models.taxonomy import TaxonomyError, load_taxonomy, parse_taxonomy
from support import MINI
from typer.testing import CliRunner

runner = CliRunner()


def test_default_taxonomy_loads_with_every_topic():
    tax = load_taxonomy()
    assert len(tax.labels) == 20
    assert {"tiered_care", "tcm", "health_promotion", "blood_donation"} <= set(tax.label_ids)
    assert tax.non_health.id == "non_health"
    assert all(any(r.vote > 0 for r in lab.rules) for lab in tax.all_labels)
    assert tax.name_of("tiered_care") == "分级诊疗与医联体"


@pytest.mark.parametrize(
    "bad, line, message",
    [
        (MINI.replace("kind: regex", "kind: regexp"), 9, "unknown kind 'regexp'"),
        (MINI.replace('"免费(?:体检|筛查)"', '"免费(体检"'), 9, "bad regular expression"),
        (MINI.replace("min_hits: 2", "min_hits: 0"), 7, "min_hits must be an integer >= 1"),
        (MINI.replace("scope: [body]", "scope: [footer]"), 9, "scope must be"),
        (MINI.replace("name: ttl", "name: kw"), 8, "duplicate rule name"),
        (MINI.replace("groups: [[走进, 来到], [村, 社区], [义诊, 咨询]]", "groups: [[走进]]"), 10, "at least two keyword groups"),
        (MINI.replace("below: 5.0, ", ""), 14, "exactly one of below/above"),
        (MINI.replace("weight: 1.5", "weight: heavy"), 8, "weight must be a number"),
        (MINI.replace("terms: [义诊]}", "terms: []}"), 8, "non-empty list"),
        (MINI.replace("    name: 义诊与健康下乡\n", ""), 4, "missing display name"),
        (MINI.replace("{name: kw, kind: keywords,", "{name: kw, kind: keywords, colour: red,"), 7, "unknown field"),
        (MINI + "  - oops: [unclosed\n", 16, "YAML syntax error"),
    ],
)
def test_taxonomy_errors_name_the_line(bad: str, line: int, message: str):
    with pytest.raises(TaxonomyError) as exc:
        parse_taxonomy(bad, source="tax.yaml")
    assert str(exc.value).startswith(f"tax.yaml:{line}:"), str(exc.value)
    assert message in str(exc.value)


def test_missing_taxonomy_file_is_reported(tmp_path: Path):
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "none.yaml")
