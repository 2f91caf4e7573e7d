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
import random
import re
from pathlib import Path

from healthtag.inference.ingest import read_jsonl
from healthtag.models.rules import RuleModel
from healthtag.models.taxonomy import load_taxonomy
from healthtag.text.article import Article

CORPORA = [Path("../shared/corpus/health_news.jsonl"), Path("../shared/corpus/health_news_more.jsonl")]


def read_titles(paths: list[Path]) -> list[str]:
    """Every record's title, read as training reads the corpora; a bad line is reported (file:line) and skipped."""
    titles = []
    for path in paths:
        for rec in read_jsonl(path):
            if rec.error:
                print(f"skipped {rec.error}")
            else:
                titles.append(rec.article.get("title", ""))
    return titles


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rule")
    parser.add_argument("generic", nargs="+", help="the rule's words suspected of firing on their own")
    parser.add_argument("--pattern", help="a narrower regex the generic-only titles would still need to match")
    parser.add_argument("--corpus", type=Path, nargs="+", default=CORPORA)
    parser.add_argument("--show", type=int, default=15)
    args = parser.parse_args(argv)
    taxonomy = load_taxonomy(None)
    title_rules = {r.name: r for r in taxonomy.rules if r.kind == "title"}
    if args.rule not in title_rules:
        raise SystemExit(f"no title rule '{args.rule}' in configs/taxonomy.yaml; title rules: {sorted(title_rules)}")
    generic = set(args.generic)
    if generic - set(title_rules[args.rule].terms):
        raise SystemExit(f"not terms of {args.rule}: {sorted(generic - set(title_rules[args.rule].terms))}")
    titles = read_titles(args.corpus)
    rules = RuleModel(taxonomy)   # the rule engine itself decides what fires and on which terms
    matched = []   # (title, the rule's matched terms); a title printed twice in the corpora counts twice
    for i, title in enumerate(titles):
        votes = rules.apply(Article(id=str(i), source="title", start=0, end=0, title=title))
        terms = {term for hit in votes.hits if hit.rule == args.rule for term in hit.terms}
        if terms:
            matched.append((title, terms))
    generic_only = [title for title, terms in matched if terms <= generic]
    print(f"{len(titles)} titles; {args.rule} fires on {len(matched)}; on {sorted(generic)} alone: {len(generic_only)}")
    for title in random.Random(0).sample(generic_only, min(args.show, len(generic_only))):
        print(f"  - {title}")
    if args.pattern:
        kept = [title for title in generic_only if re.search(args.pattern, title)]
        print(f"the narrower pattern keeps {len(kept)} of {len(generic_only)}:")
        for title in kept[:args.show]:
            print(f"  + {title}")


if __name__ == "__main__":
    main()
