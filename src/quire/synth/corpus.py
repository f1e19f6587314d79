"""Running text for synthetic text pages: sentences of words drawn by their frequency.

wordfreq ships the word frequencies of many languages with its package, so the
text needs no download. Sentences start with a capital and end with a stop;
commas, numbers, quotes and capitals are sprinkled in, so that a recognizer
trained on the pages meets the characters of printed prose.

Historical spelling writes words as prints of the 16th to 19th centuries set them,
in the Unicode of OCR-D's ground-truth conventions: a long s (ſ) wherever a letter
follows the s, a small e over lowercase umlauts (aͤ, oͤ, uͤ), and in German an ß
for ss at a syllable's end (daß, läßt), which wordfreq's word lists (case-folded)
write as ss.
"""

from __future__ import annotations

import random
from pathlib import Path

from quire.config import SynthCorpusConfig
from quire.errors import InputError
from quire.io import atomic_write_text
from quire.spelling import historical_spelling

_STOPS = [".", ".", ".", ".", "?", "!", ";", ":"]
_QUOTES = [("(", ")"), ("«", "»"), ("“", "”"), ("„", "“"), ("'", "'"), ('"', '"')]


def _number(rng: random.Random) -> str:
    """A year, a count, a page number or an ordinal."""
    kind = rng.random()
    if kind < 0.4:
        return str(rng.randint(1450, 2030))
    if kind < 0.8:
        return str(rng.randint(0, 120))
    if kind < 0.9:
        return f"{rng.randint(1, 999)}-{rng.randint(1, 999)}"
    return f"{rng.randint(1, 30)}."


def _sentence(
    words: list[str], weights: list[float], rng: random.Random, config: SynthCorpusConfig
) -> str:
    """One sentence of 3 to 16 words."""
    out = []
    for word in rng.choices(words, weights, k=rng.randint(3, 16)):
        if rng.random() < config.number_chance:
            word = _number(rng)
        elif rng.random() < config.capital_chance:
            word = word[:1].upper() + word[1:]
        if rng.random() < config.quote_chance:
            opening, closing = rng.choice(_QUOTES)
            word = f"{opening}{word}{closing}"
        if rng.random() < config.comma_chance:
            word += ","
        out.append(word)
    out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out).rstrip(",") + rng.choice(_STOPS)


def write_corpus(output: Path, config: SynthCorpusConfig) -> int:
    """Write ``config.words`` words of prose to ``output``; return the words written."""
    import wordfreq

    rng = random.Random(config.seed)
    lexicons = []
    for language in config.languages:
        if language not in wordfreq.available_languages():
            raise InputError(output, f"wordfreq has no word list for language '{language}'")
        words = [w for w in wordfreq.top_n_list(language, config.vocabulary) if w.isalpha()]
        weights = [wordfreq.word_frequency(w, language) for w in words]
        lexicons.append((language, words, weights))
    paragraphs, written = [], 0
    while written < config.words:
        language, words, weights = lexicons[len(paragraphs) % len(lexicons)]
        sentences = [_sentence(words, weights, rng, config) for _ in range(rng.randint(3, 8))]
        paragraph = " ".join(sentences)
        paragraphs.append(
            historical_spelling(paragraph, language)
            if config.spelling == "historical"
            else paragraph
        )
        written += sum(len(s.split()) for s in sentences)
    atomic_write_text(output, "\n".join(paragraphs) + "\n")
    return written
