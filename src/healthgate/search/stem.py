"""The Snowball English stemmer, for words compared outside the database: the in-memory ranking index
(search.textindex) and title bonuses. PyStemmer (its C build) does the work; snowballstemmer picks it."""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)
