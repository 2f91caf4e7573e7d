"""Where the rule terms that fired lie in an article's text, for highlighting.

Reviewers trust a tag when they see the words that made it fire, so a tag
record carries character offsets per label. Longer terms win over the
shorter terms they contain (优质医疗资源下沉 over 下沉), so spans never overlap.
"""
from __future__ import annotations

from collections.abc import Iterable


def term_spans(text: str, terms: Iterable[str]) -> list[list[int]]:
    """Non-overlapping [start, end) offsets of every occurrence of the terms in text, in text order."""
    taken = [False] * len(text)
    spans: list[list[int]] = []
    # longest first; equal lengths in the order given (a set's order would change with the hash seed)
    for term in sorted(dict.fromkeys(t for t in terms if t), key=len, reverse=True):
        start = text.find(term)
        while start != -1:
            end = start + len(term)
            if not any(taken[start:end]):
                spans.append([start, end])
                for i in range(start, end):
                    taken[i] = True
            start = text.find(term, start + 1)
    return sorted(spans)
