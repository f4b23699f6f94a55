"""Word tokens with offsets, and the accent- and case-folding used for every gazetteer lookup."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# letters, with inner apostrophes / hyphens ("O'Brien", "Saint-Étienne"); digits are not word letters here
WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


@dataclass(frozen=True, slots=True)
class Token:
    start: int
    end: int
    text: str
    key: str  # folded: accents stripped, case folded, possessive 's removed

    @property
    def is_title(self) -> bool:
        t = self.text
        return t[0].isupper() and (len(t) == 1 or not t.isupper())

    @property
    def is_upper(self) -> bool:
        return self.text.isupper()

    @property
    def is_lower(self) -> bool:
        return self.text.islower()

    @property
    def capitalized(self) -> bool:
        return self.text[0].isupper()


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """'Kertészné' -> 'kerteszne', 'ΠΑΦΟΣ' -> 'παφοσ' (accents stripped, case folded)."""
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word)
    return (
        "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        .casefold()
        .replace("ł", "l")
        .replace("ø", "o")
        .replace("đ", "d")
        .replace("ß", "ss")
    )


def tokenize(text: str) -> list[Token]:
    tokens = []
    for m in WORD.finditer(text):
        start, end, word = m.start(), m.end(), m.group(0)
        # possessive: "Gibson's" -> token "Gibson" (the 's stays outside every span)
        if len(word) > 3 and word[-2] in "'’" and word[-1] in "sS":
            end -= 2
            word = word[:-2]
        tokens.append(Token(start, end, word, fold(word)))
    return tokens
