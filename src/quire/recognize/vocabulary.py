"""What a recognizer reads and writes: symbols of a transcription and their indices.

A text model's symbols are characters, after the Unicode normalisation of its
configuration. A music model's symbols are the tokens of its staff encoding
(:mod:`quire.music.encodings`): whitespace separates them, and in bekern every
piece of a note (duration, pitch, accidental, mark) is a symbol of its own. The
``·`` that joins the pieces is not a symbol: a note starts at its duration (or at
a tie or slur opening before it), so the pieces can be joined again without it,
and a CTC model needs a frame less per piece; pieces that make no token (a
duration read without its pitch) are left out of the text. Index 0 is the CTC blank.

kern and bekern models read accidentals as printed (:mod:`quire.music.accidentals`):
a note's accidental is a symbol only where one is engraved, and :func:`join`
spells the key signature's and the measure's accidentals out again. They read a key
signature as it is engraved too, one symbol per accidental (``*k[b-e-]`` is ``b-``
``e-``; ``*k[]`` stays one symbol): a run of them joins into one key signature. And
they name each note by its place on the staff, as it would be named under a G2 clef
(:func:`quire.music.encodings.to_treble_places`), so that a note head's symbol does
not depend on a clef read hundreds of pixels to its left; :func:`join` names the notes
under their clef again. Models trained before this read pitches as sounding
(``positions`` false in their vocabulary) and decode as before. A bekern model reads
a note's opening marks (the tie's ``[``) after its other pieces, where the tie is
engraved: to the right of its note head (``openers_last``; older models read them
first, as bekern writes them).
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from quire.music.accidentals import KEY_ACCIDENTAL, to_printed, to_sounding
from quire.music.encodings import encode, from_treble_places, to_kern, to_treble_places
from quire.music.kern import CHORD_SEPARATOR, FIELD_SEPARATOR, KernError
from quire.music.score import check_token

TEXT = "text"
MUSIC_ENCODINGS = ("kern", "bekern", "semantic", "agnostic")
JOINER = "·"  # bekern's piece separator
_OPENERS = ("[", "(", "{", "&")
_ALONE = ("*", "=", "!", ".")  # interpretations, barlines, comments, a voice's null
HARM = "*harm:"  # the first piece of a chord symbol
_SEPARATORS = (CHORD_SEPARATOR, FIELD_SEPARATOR)  # between a chord's notes, voices' fields
_DURATION = re.compile(r"^\d+\.*$")
_PRINTED = ("kern", "bekern")  # encodings read with accidentals as printed
_KEY = re.compile(rf"\*k\[((?:{KEY_ACCIDENTAL.pattern})+)\]")


def normalise(text: str, form: str) -> str:
    """``text`` in Unicode normalisation ``form`` (``none`` leaves it as it is)."""
    return text if form == "none" else unicodedata.normalize(form, text)


def units(text: str, encoding: str, form: str = "NFC") -> list[str]:
    """A transcription as written, split into characters (text) or tokens (music; the
    pieces of notes in bekern): what symbol error rates count."""
    if encoding == TEXT:
        return list(normalise(text, form).strip())
    if encoding == "bekern":
        return [piece for token in text.split() for piece in token.split(JOINER)]
    return text.split()


def symbols(
    text: str,
    encoding: str,
    form: str = "NFC",
    positions: bool = False,
    openers_last: bool = False,
) -> list[str]:
    """The symbols a model of ``encoding`` reads in a transcription (notes named by
    their place on the staff when ``positions``; in bekern, a note's opening marks
    after its other pieces when ``openers_last``)."""
    if encoding not in _PRINTED:
        return units(text, encoding, form)
    kern = to_printed(to_kern(text, encoding))
    text = encode(to_treble_places(kern) if positions else kern, encoding)
    if openers_last:
        text = " ".join(JOINER.join(_move_openers(t.split(JOINER), True)) for t in text.split())
    return [symbol for unit in units(text, encoding, form) for symbol in _key_symbols(unit)]


def _move_openers(pieces: list[str], last: bool) -> list[str]:
    """A note's pieces with its opening marks after (``last``) or before the others."""
    openers = [piece for piece in pieces if piece in _OPENERS]
    others = [piece for piece in pieces if piece not in _OPENERS]
    return others + openers if last else openers + others


def _key_symbols(unit: str) -> list[str]:
    """A key signature's accidentals, one symbol each; any other unit as it is."""
    key = _KEY.fullmatch(unit)
    return KEY_ACCIDENTAL.findall(key[1]) if key else [unit]


def join(
    tokens: list[str], encoding: str, positions: bool = False, openers_last: bool = False
) -> str:
    """Inverse of :func:`symbols`: the transcription text of ``tokens``."""
    if encoding == TEXT:
        return "".join(tokens)
    if encoding not in _PRINTED:
        return " ".join(tokens)
    tokens = _join_keys(tokens)
    text = _join_pieces(tokens, openers_last) if encoding == "bekern" else " ".join(tokens)
    kern = to_kern(text, encoding)
    return encode(to_sounding(from_treble_places(kern) if positions else kern), encoding)


def _join_keys(tokens: list[str]) -> list[str]:
    """Each run of key signature accidentals as one ``*k[…]`` token."""
    joined: list[str] = []
    runs = itertools.groupby(tokens, key=lambda token: bool(KEY_ACCIDENTAL.fullmatch(token)))
    for is_key, group in runs:
        run = list(group)
        joined.extend([f"*k[{''.join(run)}]"] if is_key else run)
    return joined


def _join_pieces(tokens: list[str], openers_last: bool = False) -> str:
    """Bekern text from its pieces: a note starts at its duration, or at an opening
    mark unless those come last."""
    notes: list[list[str]] = []
    taking = False  # whether the last note takes more pieces
    for token in tokens:
        starts = bool(_DURATION.match(token)) or (token in _OPENERS and not openers_last)
        if token == HARM:  # a chord symbol takes its root, kind and bass
            notes.append([token])
            taking = True
        elif token.startswith(_ALONE) or token in _SEPARATORS:
            notes.append([token])
            taking = False
        elif taking and notes[-1][0] == HARM:
            if starts or token in _OPENERS:
                notes.append([token])
            else:
                notes[-1].append(token)
        elif taking and not (starts and not _only_openers(notes[-1])):
            notes[-1].append(token)
        else:
            notes.append([token])
            taking = True
    notes = [_move_openers(note, False) for note in notes]
    return " ".join(JOINER.join(note) for note in notes if _makes_a_token(note))


def _makes_a_token(pieces: list[str]) -> bool:
    """Whether the pieces read for one token make one: a misread note that lacks its
    pitch or duration (``16·n·J``) does not, and is left out of the text."""
    if len(pieces) == 1 and pieces[0] in _SEPARATORS:
        return True
    try:
        check_token("".join(pieces))
    except KernError:
        return False
    return True


def _only_openers(pieces: list[str]) -> bool:
    return all(piece in _OPENERS for piece in pieces)


@dataclass(frozen=True)
class Vocabulary:
    """The symbols of a model, in output order after the blank."""

    encoding: str
    tokens: tuple[str, ...]
    normalization: str = "NFC"
    positions: bool = False  # kern and bekern: notes named by their place on the staff
    openers_last: bool = False  # bekern: a note's opening marks after its other pieces

    @classmethod
    def from_texts(cls, texts: list[str], encoding: str, normalization: str) -> Vocabulary:
        """Every symbol of ``texts``, most frequent first (ties in code-point order)."""
        positions, openers_last = encoding in _PRINTED, encoding == "bekern"
        counts = Counter(
            s
            for text in texts
            for s in symbols(
                text, encoding, normalization, positions=positions, openers_last=openers_last
            )
        )
        ordered = sorted(counts, key=lambda s: (-counts[s], s))
        return cls(encoding, tuple(ordered), normalization, positions, openers_last)

    @property
    def size(self) -> int:
        """Outputs of the network: the symbols and the blank."""
        return len(self.tokens) + 1

    def encode(self, text: str) -> tuple[list[int], list[str]]:
        """Indices (1-based) of the known symbols of ``text``, and its unknown symbols."""
        index = self.index
        known, unknown = [], []
        read = symbols(
            text,
            self.encoding,
            self.normalization,
            positions=self.positions,
            openers_last=self.openers_last,
        )
        for symbol in read:
            if symbol in index:
                known.append(index[symbol])
            else:
                unknown.append(symbol)
        return known, unknown

    def decode(self, indices: list[int]) -> list[str]:
        return [self.tokens[i - 1] for i in indices]

    def text(self, indices: list[int]) -> str:
        """The transcription text of output indices (see :func:`join`)."""
        return join(
            self.decode(indices),
            self.encoding,
            positions=self.positions,
            openers_last=self.openers_last,
        )

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """Symbol → output index (1-based)."""
        return {token: i for i, token in enumerate(self.tokens, start=1)}

    def to_json(self) -> dict[str, object]:
        return {
            "encoding": self.encoding,
            "normalization": self.normalization,
            "positions": self.positions,
            "openers_last": self.openers_last,
            "tokens": list(self.tokens),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Vocabulary:
        return cls(
            str(data["encoding"]),
            tuple(data["tokens"]),
            str(data["normalization"]),
            bool(data.get("positions", False)),
            bool(data.get("openers_last", False)),
        )


def unknown_report(unknown: Counter[str], lines: int, limit: int = 8) -> str:
    """One line: how many unknown symbols, in how many lines, the commonest ones."""
    examples = ", ".join(f"{s!r} ×{n}" for s, n in unknown.most_common(limit))
    return (
        f"{sum(unknown.values())} symbols in {lines} lines are not in the vocabulary "
        f"({len(unknown)} distinct: {examples})"
    )
