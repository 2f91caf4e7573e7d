"""Which unlabeled titles a title rule fires on through its generic words alone (label-free).

Why: a title rule is worth 1.5 votes, so a generic word in it (成功, 手术 in `specialty_title`) can
make a weak positive out of a patient-education piece ("我的子宫肌瘤需要手术吗？"). Before a rule
change (which means a retrain, a crossfit and a new student) this counts, on the unlabeled
corpora only (never on gold), how many firing titles hit nothing but the generic words, and
how many of those a narrower pattern would keep, with a sample of each to read.

    python scripts/title_rule_firings.py RULE GENERIC_WORD... [--pattern REGEX] [--corpus FILE...] [--show N]
"""
from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

from healthtag.models.taxonomy import load_taxonomy

CORPORA = [Path("../shared/corpus/health_news.jsonl"), Path("../shared/corpus/health_news_more.jsonl")]


def title_terms(rule_name: str) -> tuple[str, ...]:
    """The terms of the bundled taxonomy's title rule ``rule_name`` (an error names the title rules there are)."""
    rules = {r.name: r for r in load_taxonomy(None).rules if r.kind == "title"}
    if rule_name not in rules:
        raise SystemExit(f"no title rule '{rule_name}' in configs/taxonomy.yaml; title rules: {sorted(rules)}")
    return rules[rule_name].terms


def read_titles(paths: list[Path]) -> list[tuple[str, str]]:
    """(title, kind) of every record; a line that is not JSON is reported with its file and line, then skipped."""
    out = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    print(f"{path}:{number}: not JSON ({err}); skipped")
                    continue
                out.append((record.get("title") or "", record.get("kind") or "?"))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rule")
    parser.add_argument("generic", nargs="+", help="the rule's words suspected of firing on their own")
    parser.add_argument("--pattern", help="a narrower regex the generic-only titles would still need to match")
    parser.add_argument("--corpus", type=Path, nargs="+", default=CORPORA)
    parser.add_argument("--show", type=int, default=15)
    args = parser.parse_args(argv)
    terms, generic = title_terms(args.rule), set(args.generic)
    unknown = generic - set(terms)
    if unknown:
        raise SystemExit(f"not terms of {args.rule}: {sorted(unknown)}")
    titles = read_titles(args.corpus)
    firing = [(t, k) for t, k in titles if any(term in t for term in terms)]
    generic_only = [(t, k) for t, k in firing if {term for term in terms if term in t} <= generic]
    print(f"{len(titles)} titles; {args.rule} fires on {len(firing)}; on {sorted(generic)} alone: {len(generic_only)}")
    print("kinds of the generic-only titles:", Counter(k for _, k in generic_only).most_common())
    rng = random.Random(0)
    for title, kind in rng.sample(generic_only, min(args.show, len(generic_only))):
        print(f"  - [{kind}] {title}")
    if args.pattern:
        narrow = re.compile(args.pattern)
        kept = [(t, k) for t, k in generic_only if narrow.search(t)]
        print(f"the narrower pattern keeps {len(kept)} of {len(generic_only)}:")
        for title, kind in kept[:args.show]:
            print(f"  + [{kind}] {title}")


if __name__ == "__main__":
    main()
