"""Words for titles and lyrics of synthetic pages (Latin, as in much printed music)."""

from __future__ import annotations

import random
from collections.abc import Iterator

_WORDS = [
    "ave",
    "maria",
    "gratia",
    "plena",
    "dominus",
    "tecum",
    "benedicta",
    "tu",
    "in",
    "mulieribus",
    "et",
    "benedictus",
    "fructus",
    "ventris",
    "tui",
    "sancta",
    "mater",
    "dei",
    "ora",
    "pro",
    "nobis",
    "peccatoribus",
    "nunc",
    "hora",
    "mortis",
    "nostrae",
    "gloria",
    "patri",
    "filio",
    "spiritui",
    "sancto",
    "sicut",
    "erat",
    "principio",
    "semper",
    "saecula",
    "saeculorum",
    "amen",
    "kyrie",
    "eleison",
    "christe",
    "agnus",
    "qui",
    "tollis",
    "peccata",
    "mundi",
    "miserere",
    "dona",
    "pacem",
    "laudate",
    "pueri",
    "nomen",
    "domini",
    "magnificat",
    "anima",
    "mea",
    "exsultavit",
    "spiritus",
    "salutari",
    "meo",
]
_TITLES = (
    "Sonatina",
    "Menuet",
    "Air",
    "Chorale",
    "Étude",
    "Prelude",
    "Gavotte",
    "Canzona",
    "Aria",
    "Sarabande",
    "Romance",
    "Invention",
    "Lied",
    "Motet",
    "Bourrée",
)


def random_title(rng: random.Random) -> str:
    title = f"{rng.choice(_TITLES)} {rng.choice(['No.', 'in', 'for'])} "
    return title + rng.choice([str(rng.randint(1, 24)), "G", "D minor", "B♭", "voice", "Anna"])


def _split(word: str) -> list[str]:
    """Rough syllables: break before a consonant that follows a vowel."""
    parts, current = [], ""
    for i, ch in enumerate(word):
        current += ch
        following = word[i + 1 : i + 3]
        if (
            ch in "aeiouy"
            and len(following) == 2
            and following[0] not in "aeiouy"
            and following[1] in "aeiouy"
        ):
            parts.append(current)
            current = ""
    parts.append(current)
    return parts


def syllables(rng: random.Random) -> Iterator[str]:
    """An endless stream of **text syllables (``ve-`` / ``-ni-`` / ``-a`` hyphenation)."""
    while True:
        parts = _split(rng.choice(_WORDS))
        for i, part in enumerate(parts):
            yield ("-" if i else "") + part + ("-" if i < len(parts) - 1 else "")
