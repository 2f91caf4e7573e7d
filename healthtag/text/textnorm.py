"""Character-level normalisation and sentence splitting for Chinese news text.

Kept apart from file reading so that the rules, the summarizer and the tests
use exactly the same notion of "a sentence" and of "the same character".
"""

from __future__ import annotations

import re
import unicodedata

# Terminal punctuation that ends a sentence, full- and half-width.
SENTENCE_END = "。！？!?；;…"
OPEN_QUOTES = "“‘「『《"
CLOSE_QUOTES = "”’」』》"
CLOSERS = CLOSE_QUOTES + "）)】]"

_HSPACE = re.compile(r"[ \u00a0\u3000\u2000-\u200b\u202f\u205f\ufeff\x0b\x0c]+")


# the only characters `_safe_nfkc` can change: a page's lines are scanned by the regex engine, not per character in Python
_NFKC_CANDIDATES = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u2e80-\u2eff\u2f00-\u2fdf\uf900-\ufaff]")


def _safe_nfkc(ch: str) -> str:
    """NFKC only where it cannot change meaning: full-width ASCII letters/digits and
    Kangxi/CJK radicals that OCR and PDF extraction emit instead of the ideograph."""
    code = ord(ch)
    if 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A:
        return chr(code - 0xFEE0)
    if 0x2F00 <= code <= 0x2FDF or 0x2E80 <= code <= 0x2EFF or 0xF900 <= code <= 0xFAFF:
        mapped = unicodedata.normalize("NFKC", ch)
        return mapped if len(mapped) == 1 else ch
    return ch


def normalize_line(line: str) -> str:
    """Normalise one line: safe NFKC, one space for any run of horizontal blanks
    (tabs kept, they separate table cells), no blanks at either end.

    Chinese characters and punctuation are never changed, so `，` stays `，`.
    """
    line = _NFKC_CANDIDATES.sub(lambda m: _safe_nfkc(m.group()), line)
    line = _HSPACE.sub(" ", line)
    return line.strip(" \t\r\n")


def ends_sentence(text: str) -> bool:
    """True when the text ends like a finished sentence (。 ！ ？ ； …, possibly inside a closing quote)."""
    text = text.rstrip()
    if not text:
        return False
    if text[-1] in SENTENCE_END:
        return True
    i = len(text) - 1
    while i >= 0 and text[i] in CLOSERS:
        i -= 1
    return i >= 0 and i < len(text) - 1 and text[i] in SENTENCE_END


_ATTRIBUTION = re.compile(r"^[^。！？!?“”]{1,18}?(说|表示|介绍|坦言|感慨|指出|强调|告诉记者|说道)[。，,!！]?$")


def split_sentences(paragraph: str, max_quote_chars: int = 400) -> list[str]:
    """Split a paragraph into sentences on 。！？；… keeping quotations whole.

    A terminator inside “…” does not end the sentence; the sentence ends after
    the closing quote instead. A short attribution right after a quote
    (“……。”朱鹏程说。) stays with the quote. Unbalanced quotes (common after
    OCR) are given up on after `max_quote_chars` so one lost ” cannot swallow
    the rest of the paragraph.
    """
    sentences: list[str] = []
    buf: list[str] = []
    depth = 0
    quote_len = 0
    n = len(paragraph)
    i = 0
    while i < n:
        ch = paragraph[i]
        buf.append(ch)
        if ch in "“‘「『":
            depth += 1
            quote_len = 0
        elif ch in "”’」』" and depth > 0:
            depth -= 1
        elif depth > 0:
            quote_len += 1
            if quote_len > max_quote_chars:
                depth = 0
        if ch in SENTENCE_END:
            # absorb runs of terminators and closing marks: ……  。”  ！）
            while i + 1 < n and (paragraph[i + 1] in SENTENCE_END or paragraph[i + 1] in CLOSERS):
                i += 1
                buf.append(paragraph[i])
                if paragraph[i] in "”’」』" and depth > 0:
                    depth -= 1
            if depth == 0:
                rest = paragraph[i + 1 :]
                m = re.match(r"[^。！？!?]*[。！？!?]?", rest)
                tail = m.group(0) if m else ""
                if buf and buf[-1] in "”’」』" and tail and _ATTRIBUTION.match(tail):
                    buf.append(tail)
                    i += len(tail)
                sentence = "".join(buf).strip()
                if sentence:
                    sentences.append(sentence)
                buf = []
        i += 1
    tail_text = "".join(buf).strip()
    if tail_text:
        sentences.append(tail_text)
    return sentences
