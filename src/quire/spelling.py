"""The letters of older prints as OCR-D's ground-truth conventions write them.

Shared by the prose of ``quire synth corpus --spelling historical`` (writing them),
``quire synth text`` (setting them in fonts that lack some) and ``quire recognize
predict --normalise`` (modern letters for them).
"""

from __future__ import annotations

import re

LONG_S = "ſ"
SMALL_E = "\u0364"  # combining small e over a letter: aͤ
UMLAUTS = {"a": "ä", "o": "ö", "u": "ü", "A": "Ä", "O": "Ö", "U": "Ü"}  # letter + small e
MODERN = {LONG_S: "s", SMALL_E: "e", "ꝛ": "r", "⸗": "-", "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl"}
MODERN |= {"ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
_LONG_S_HERE = re.compile(r"s(?=[^\W\d_])")  # an s a letter follows
_ESZETT = re.compile(r"ss(?![aeiouyäöü])")  # before a consonant or at a word's end
_WITH_SMALL_E = str.maketrans(
    {umlaut: letter + SMALL_E for letter, umlaut in UMLAUTS.items() if letter.islower()}
)


def historical_spelling(text: str, language: str) -> str:
    """``text`` as older prints set it: ß for ss at a syllable's end (German), ſ before
    a letter, a small e over ä, ö, ü."""
    if language == "de":
        text = _ESZETT.sub("ß", text)
    return _LONG_S_HERE.sub(LONG_S, text).translate(_WITH_SMALL_E)
