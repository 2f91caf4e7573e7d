"""The `healthtag weak-label` record: the tag shape from the rules alone, with every rule that fired."""
from __future__ import annotations

from healthtag.models.evidence import decide, weighted_vote
from healthtag.models.rules import ArticleVotes, RuleModel
from healthtag.models.taxonomy import Taxonomy

from healthtag.text.article import Article


def rules_record(art: Article, votes: ArticleVotes, probs: dict[str, float], taxonomy: Taxonomy) -> dict:
    health, topics = decide(probs)
    return {
        "id": art.id,
        "source": art.source,
        "title": art.title,
        "health": health,
        "labels": [{"id": t, "name": taxonomy.name_of(t), "score": round(probs[t], 4)} for t in topics],
        "summary": None,
        "rule_hits": {k: v for k, v in votes.terms_by_label().items() if k in topics},
        "rules": [
            {"rule": h.rule, "label": h.label, "vote": h.vote, "weight": h.weight, "hits": h.hits, "terms": list(h.terms)}
            for h in votes.hits
        ],
        "non_health_score": round(probs.get("non_health", 0.0), 4),
        "error": None,
    }


def weak_label_record(model: RuleModel, art: Article) -> dict:
    votes = model.apply(art)
    return rules_record(art, votes, weighted_vote(votes, model.taxonomy), model.taxonomy)
