"""Weak sentence-salience targets for training the extractive summarizer."""
from __future__ import annotations

import re

from healthtag.models.rules import ArticleVotes

from healthtag.text.article import Article

_FIGURE = re.compile(r"\d+(?:\.\d+)?\s*(?:%|％|万|亿|人次|余|多|个|家|例|名|元|台|张|项|所|支|次|倍|床|岁|毫升|公里)")
_ACTOR = re.compile(r"医院|卫健委|卫生健康委|卫健局|卫生院|疾控|中心|政府|委员会|协会|学会|血站|社区|医共体|医联体|集团")
_OUTCOME = re.compile(r"成功|完成|实现|提升|提高|达到|累计|覆盖|建成|获得|荣获|启动|开展|举行|召开|签约|揭牌|入选|通过|救治|接诊|服务|惠及|减少|降低")
_QUOTE_ATTRIB = re.compile(r"(?:说|表示|介绍|坦言|感慨|告诉记者)[。！!]?$")
_SCENE = re.compile(r"^(?:近日|清晨|当天|傍晚|夜晚|深夜|凌晨|早上|“)")
_CREDIT = re.compile(r"记者|通讯员|摄影|摄$")


def sentence_salience(art: Article, votes: ArticleVotes, topics: list[str]) -> list[float]:
    """Weak salience in [0, 1] for each of `art.sentences`, for training the summarizer.

    A summary sentence should say who did what with what result: topic terms
    of the article's own labels, a figure, an acting institution and an outcome
    verb count for it; quotes, scene-setting openings, bylines and very long or
    very short sentences count against it. Lead position helps a little.
    """
    sents = art.sentences
    if not sents:
        return []
    terms_by_label = votes.terms_by_label()
    topic_terms = {t for lab in topics for t in terms_by_label.get(lab, []) if "/" not in t}
    n = len(sents)
    raw = []
    for i, s in enumerate(sents):
        score = 0.0
        score += min(sum(1 for t in topic_terms if t in s), 3) / 3.0
        score += 0.5 * bool(_FIGURE.search(s))
        score += 0.4 * bool(_ACTOR.search(s))
        score += 0.4 * bool(_OUTCOME.search(s))
        score += 0.6 * (1.0 - i / n)
        if s.startswith("“") or _QUOTE_ATTRIB.search(s):
            score -= 0.8
        if i == 0 and _SCENE.match(s) and not _ACTOR.search(s):
            score -= 0.5
        if len(s) < 12 or _CREDIT.search(s) and len(s) < 40:
            score -= 1.0
        if len(s) > 160:
            score -= 0.3
        raw.append(score)
    lo, hi = min(raw), max(raw)
    if hi - lo < 1e-9:
        return [0.5] * n
    return [round((x - lo) / (hi - lo), 4) for x in raw]
