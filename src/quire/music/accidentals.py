"""Accidentals as printed and as sounding, for one-line kern staff text.

**kern spells every note as it sounds: in E-flat major every e is ``e-``, though
the page shows no flat beside it. A recognizer that reads lines left to right
should write what it sees, so music models read accidentals *as printed*:

- a note carries an accidental only when one is engraved before it: when its
  alteration differs from what the key signature, or an earlier accidental on
  the same step and octave in the measure, makes it; a natural is ``n``;
- notes that continue a tie never carry one.

These are the rules by which Verovio engraves **kern. :func:`to_sounding` undoes
:func:`to_printed`: it applies the key signature and the measure's accidentals
again, writing ``n`` only where a natural cancels the key signature.
"""

from __future__ import annotations

import re

from quire.music.kern import CHORD_SEPARATOR

_NOTE = re.compile(r"^(?P<head>[^a-gA-Gr]*?\d+\.*)(?P<pitch>([a-gA-G])\3*)(?P<acc>#+|-+|n)?")
KEY_ACCIDENTAL = re.compile(r"[a-g][#-]")  # one accidental of a *k[…] key signature
ALTERATION = {"#": 1, "##": 2, "-": -1, "--": -2, "n": 0}


def _key(token: str) -> dict[str, int]:
    """Alteration of each step (lower case) under a ``*k[…]`` key signature."""
    return {m[0][0]: ALTERATION[m[0][1]] for m in KEY_ACCIDENTAL.finditer(token[3:])}


def _spell(alteration: int) -> str:
    return "#" * alteration if alteration > 0 else "-" * -alteration


def _convert(text: str, printed: bool) -> str:
    key: dict[str, int] = {}
    measure: dict[tuple[str, int], int] = {}
    tied: dict[tuple[str, int], int] = {}
    out = []
    for token in text.split():
        if token.startswith("*k["):
            key, measure = _key(token), {}
        elif token.startswith("="):
            measure = {}
        match = _NOTE.match(token) if token != CHORD_SEPARATOR else None
        if match is None:
            out.append(token)
            continue
        pitch = match["pitch"]
        place = (pitch[0].lower(), len(pitch) if pitch[0].islower() else -len(pitch))
        continues_tie = "]" in token or "_" in token
        expected = (
            tied[place]
            if continues_tie and place in tied
            else measure.get(place, key.get(place[0], 0))
        )
        written = match["acc"]
        if printed:
            alteration = ALTERATION[written] if written else 0
            shown = "" if continues_tie or alteration == expected else _spell(alteration) or "n"
        else:
            alteration = expected if continues_tie or not written else ALTERATION[written]
            shown = _spell(alteration) or ("n" if key.get(place[0], 0) else "")
        if not continues_tie:
            measure[place] = alteration
        tied[place] = alteration  # what a tie from this note carries on
        out.append(match["head"] + pitch + shown + token[match.end() :])
    return " ".join(out)


def to_printed(text: str) -> str:
    """Kern staff text with accidentals only where they are engraved."""
    return _convert(text, printed=True)


def to_sounding(text: str) -> str:
    """Kern staff text with every note's alteration spelt out (the inverse)."""
    return _convert(text, printed=False)
