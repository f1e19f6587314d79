"""A procedural generator of plausible **kern: monophonic lines and piano music.

Melodies move by steps and small leaps inside the clef's range; rhythms fill
each measure exactly, with dotted values, rests, ties (mostly over the barline),
accidentals outside the key, beams per beat, and (for piano) chords.
Everything is drawn from one ``random.Random(seed)``: the same seed gives the
same music.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

from quire.config import CLEFS, FIFTHS
from quire.music.score import duration

_STEPS = "cdefgab"
_SHARP_ORDER = "fcgdaeb"
_FLAT_ORDER = "beadgcf"
# Lowest and highest diatonic index (octave * 7 + step) written for each clef.
_RANGES = {
    "G2": (4 * 7 + 0, 5 * 7 + 4),
    "F4": (2 * 7 + 2, 3 * 7 + 6),
    "C1": (4 * 7 + 0, 5 * 7 + 2),
    "C3": (3 * 7 + 2, 4 * 7 + 6),
    "C4": (3 * 7 + 0, 4 * 7 + 4),
}
_METERS = ["2/4", "3/4", "4/4", "6/8", "3/8", "2/2", "9/8", "12/8", "3/2", "4/2", "6/4"]
# Rhythmic figures (kern durations), their length in whole notes and their weight:
# 32nds come in pairs or after a dotted 16th, as they do in printed melodies.
_FIGURES = [
    (figure, sum(duration([value]) for value in figure), weight)
    for figure, weight in [
        (("1",), 1.0),
        (("2.",), 1.0),
        (("2",), 1.0),
        (("4.",), 1.0),
        (("4",), 1.0),
        (("8.",), 1.0),
        (("8",), 1.0),
        (("16.", "32"), 0.15),
        (("16",), 1.0),
        (("32", "32"), 0.08),
    ]
]


@dataclass(frozen=True)
class MusicStyle:
    """What the generator may use."""

    kind: str = "monophonic"  # or "piano"
    measures: tuple[int, int] = (8, 24)
    rest_chance: float = 0.1
    accidental_chance: float = 0.08
    tie_chance: float = 0.05
    chord_chance: float = 0.3
    clefs: tuple[str, ...] = CLEFS  # of monophonic music
    fifths: tuple[int, int] = FIFTHS  # key signatures: flats (negative) to sharps


def generate_kern(seed: int, style: MusicStyle = MusicStyle()) -> str:
    """Return a Humdrum file: one **kern spine, or two (left hand first) for piano."""
    rng = random.Random(seed)
    meter = rng.choice(_METERS)
    fifths = rng.randint(*style.fifths)
    key = (
        "".join(f"{s}#" for s in _SHARP_ORDER[:fifths])
        if fifths > 0
        else "".join(f"{s}-" for s in _FLAT_ORDER[:-fifths])
    )
    measures = rng.randint(*style.measures)
    clefs = ["F4", "G2"] if style.kind == "piano" else rng.choices(style.clefs)
    spines = [_spine(rng, clef, meter, key, measures, style) for clef in clefs]
    header = [
        ["**kern"] * len(clefs),
        [f"*clef{c}" for c in clefs],
        [f"*k[{key}]"] * len(clefs),
        [f"*M{meter}"] * len(clefs),
    ]
    rows = [*header, *_align(spines), ["*-"] * len(clefs)]
    return "\n".join("\t".join(row) for row in rows) + "\n"


def _spine(
    rng: random.Random, clef: str, meter: str, key: str, measures: int, style: MusicStyle
) -> list[list[tuple[Fraction, str]]]:
    """Measures of (onset, token) for one staff."""
    low, high = _RANGES[clef]
    position = rng.randint(low + 2, high - 2)
    numerator, denominator = (int(x) for x in meter.split("/"))
    length = Fraction(numerator, denominator)
    beat = Fraction(3, 8) if denominator == 8 and numerator % 3 == 0 else Fraction(1, denominator)
    chords = style.kind == "piano" and rng.random() < style.chord_chance * 2
    out, tie_from, tie_pitch = [], None, ""  # a tie carries the pitch, accidental included
    for number in range(measures):
        events: list[tuple[Fraction, str]] = []
        onset = Fraction(0)
        while onset < length:
            choices = [
                (f, v, w)
                for f, v, w in _FIGURES
                if v <= length - onset and (v >= beat or (onset % beat) + v <= beat)
            ]
            figure, _, _ = rng.choices(choices, [w for _, _, w in choices])[0]
            for value in figure:
                length_of_value = duration([value])
                if tie_from is None and rng.random() < style.rest_chance:
                    token = f"{value}r"
                else:
                    if tie_from is not None:
                        step = tie_from
                    else:
                        position = min(
                            high,
                            max(
                                low,
                                position + rng.choice([-2, -1, -1, 0, 1, 1, 2, rng.randint(-5, 5)]),
                            ),
                        )
                        step = position
                    pitch = tie_pitch if tie_from is not None else _pitch(rng, step, key, style)
                    token = value + pitch
                    if (
                        chords
                        and tie_from is None
                        and rng.random() < style.chord_chance
                        and step + 4 <= high
                    ):
                        third = step + rng.choice([2, 4])
                        token += " " + value + _pitch(rng, third, key, style)
                    if tie_from is not None:
                        token = _tie(token, "]")
                        tie_from = None
                    elif " " not in token and rng.random() < _tie_chance(
                        style, onset + length_of_value == length, number == measures - 1
                    ):
                        token = _tie(token, "[")
                        tie_from, tie_pitch = step, pitch
                events.append((onset, token))
                onset += length_of_value
        out.append(_beam(events, beat))
    return out


def _tie_chance(style: MusicStyle, ends_measure: bool, last_measure: bool) -> float:
    """Chance that a note opens a tie: mostly over the barline, a third as often
    inside a measure, never on the piece's last note."""
    if ends_measure:
        return 0.0 if last_measure else style.tie_chance
    return style.tie_chance / 3


def _pitch(rng: random.Random, index: int, key: str, style: MusicStyle) -> str:
    octave, step = divmod(index, 7)
    letter = _STEPS[step]
    name = letter * (octave - 3) if octave >= 4 else letter.upper() * (4 - octave)
    in_key = "#" if f"{letter}#" in key else "-" if f"{letter}-" in key else ""
    if rng.random() < style.accidental_chance:
        usual = {"#": letter not in "eb", "-": letter not in "fc", "n": True}  # no E#, F♭ …
        return name + rng.choice([a for a in usual if usual[a] and a != (in_key or "n")])
    return name + in_key


def _tie(token: str, mark: str) -> str:
    return mark + token if mark == "[" else token + mark


def _beam(events: list[tuple[Fraction, str]], beat: Fraction) -> list[tuple[Fraction, str]]:
    """Beam runs of two or more flagged notes inside one beat (kern L … J)."""
    groups: dict[Fraction, list[int]] = {}
    for i, (onset, token) in enumerate(events):
        if token.split(" ")[0].lstrip("[").startswith(("8", "16", "32")) and "r" not in token:
            groups.setdefault(onset // beat, []).append(i)
    beamed = list(events)
    for members in groups.values():
        runs: list[list[int]] = []
        for i in members:
            if runs and i == runs[-1][-1] + 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in (r for r in runs if len(r) > 1):
            for i, mark in ((run[0], "L"), (run[-1], "J")):
                onset, token = beamed[i]
                notes = token.split(" ")
                notes[0] = (
                    notes[0] + mark if not notes[0].endswith("]") else notes[0][:-1] + mark + "]"
                )
                beamed[i] = (onset, " ".join(notes))
    return beamed


def _align(spines: list[list[list[tuple[Fraction, str]]]]) -> list[list[str]]:
    """Merge the staves' events into Humdrum records, with numbered barlines."""
    rows: list[list[str]] = []
    for number, measures in enumerate(zip(*spines, strict=True), start=1):
        if number > 1:
            rows.append([f"={number}"] * len(spines))
        onsets = sorted({onset for events in measures for onset, _ in events})
        for onset in onsets:
            rows.append([next((t for o, t in events if o == onset), ".") for events in measures])
    rows.append(["=="] * len(spines))
    return rows
