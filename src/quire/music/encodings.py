"""Staff encodings derived from one-line kern staff text (see :mod:`quire.music.kern`).

- ``kern``: the staff text itself.
- ``bekern``: every note and rest split into pieces joined by ``·`` (duration,
  pitch, accidental, marks), as the Sheet Music Transformer papers do.
- ``semantic`` and ``agnostic``: the PrIMuS encodings, for monophonic staves only.
  Agnostic positions follow the clef (``L1`` is the bottom line, ``S1`` the space
  above it); key signature accidentals follow the engraving convention of the G
  and F clefs, shifted for C clefs; beamed notes are named by their beam group
  (``beamedRight``, ``beamedBoth``, ``beamedLeft``) and beam count.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from quire.music.kern import (
    CHORD_SEPARATOR,
    KernError,
    key_signature,
    split_token,
    staff_text,
    text_records,
)

ENCODINGS = ("kern", "bekern", "semantic", "agnostic")

_DURATIONS = {
    "0": "double_whole",
    "1": "whole",
    "2": "half",
    "4": "quarter",
    "8": "eighth",
    "16": "sixteenth",
    "32": "thirty_second",
    "64": "sixty_fourth",
}
_BEAMS = {"8": 1, "16": 2, "32": 3, "64": 4}
_STEPS = "CDEFGAB"
# Bottom-line pitch (step, octave) of each clef.
_CLEF_BOTTOM = {
    "G2": ("E", 4),
    "G1": ("G", 4),
    "F4": ("G", 2),
    "F3": ("B", 2),
    "F5": ("E", 2),
    "C1": ("C", 4),
    "C2": ("A", 3),
    "C3": ("F", 3),
    "C4": ("D", 3),
    "C5": ("B", 2),
}
_SHARP_KEYS = ["C", "G", "D", "A", "E", "B", "F#", "C#"]
_FLAT_KEYS = ["C", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb"]
# Key signature positions (steps above the bottom line) in treble clef.
_SHARP_STEPS = [8, 5, 9, 6, 3, 7, 4]
_FLAT_STEPS = [4, 7, 3, 6, 2, 5, 1]
_NOTE = re.compile(
    r"^[\[({&]*(?P<dur>\d+)(?P<dots>\.*)[qQ]?(?P<pitch>[a-gA-G]+|r)(?P<acc>#+|-+|n)?"
)


def encode(text: str, encoding: str) -> str:
    """Convert one-line kern staff text into ``encoding``."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {ENCODINGS}")
    return _ENCODERS[encoding](text)


def to_bekern(text: str) -> str:
    return staff_text(
        [
            "\t".join(" ".join("·".join(split_token(n)) for n in notes.split(" ")) for notes in r)
            for r in text_records(text)
        ]
    )


def _monophonic(text: str) -> list[str]:
    """The staff's tokens, each run of two or more whole-measure rests as one
    ``multirest:N`` (as engraved)."""
    records = text_records(text)
    if any(len(fields) > 1 for fields in records):
        raise KernError("voices cannot be written in a monophonic (PrIMuS) encoding")
    if any(" " in fields[0] for fields in records):
        raise KernError("chords cannot be written in a monophonic (PrIMuS) encoding")
    return _multirests([fields[0] for fields in records])


def _multirests(tokens: list[str]) -> list[str]:
    from quire.music.score import duration

    length = Fraction(1)

    def measure_rest(i: int) -> bool:
        return (
            re.fullmatch(r"\d+\.*r", tokens[i]) is not None
            and duration([tokens[i]]) == length
            and (i == 0 or tokens[i - 1].startswith(("=", "*")))
            and i + 1 < len(tokens)
            and tokens[i + 1].startswith("=")
        )

    out, k = [], 0
    while k < len(tokens):
        token = tokens[k]
        if re.fullmatch(r"\*M\d+/\d+", token):
            numerator, denominator = token[2:].split("/")
            length = Fraction(int(numerator), int(denominator))
        elif token in ("*met(c)", "*met(c|)"):
            length = Fraction(1)
        elif measure_rest(k):
            count, j = 1, k + 1
            while j + 1 < len(tokens) and tokens[j] == "=" and measure_rest(j + 1):
                count, j = count + 1, j + 2
            if count > 1:
                out.append(f"multirest:{count}")
                k = j
                continue
        out.append(token)
        k += 1
    return out


def _value(dur: str) -> str | None:
    """The PrIMuS name of a kern value; a triplet's (12, 24, 6 …) is its written one."""
    if dur in _DURATIONS:
        return _DURATIONS[dur]
    if int(dur) % 3 == 0 and str(int(dur) * 2 // 3) in _DURATIONS:
        return _DURATIONS[str(int(dur) * 2 // 3)]
    return None


def _parse_note(token: str) -> dict[str, str] | None:
    match = _NOTE.match(token)
    if not match or _value(match["dur"]) is None:
        return None
    found = match.groupdict(default="")
    found["value"] = _value(match["dur"])
    found["grace"] = "q" in token[match.start("dots") :] or "Q" in token[match.start("dots") :]
    return found


def _pitch(kern_pitch: str) -> tuple[str, int]:
    """Kern pitch letters to (step, octave): c = C4, cc = C5, C = C3, CC = C2."""
    step = kern_pitch[0].upper()
    octave = 3 + len(kern_pitch) if kern_pitch[0].islower() else 4 - len(kern_pitch)
    return step, octave


def _accidental_name(acc: str) -> str:
    return {"#": "#", "##": "##", "-": "b", "--": "bb", "n": ""}.get(acc, "")


def _key_name(token: str) -> str:
    sharps, flats = token.count("#"), token.count("-")
    return (_SHARP_KEYS[sharps] if sharps else _FLAT_KEYS[flats]) + "M"


def to_semantic(text: str) -> str:
    out: list[str] = []
    for token in _monophonic(text):
        if token.startswith("*clef"):
            out.append(f"clef-{token[5:]}")
        elif token.startswith("*k["):
            out.append(f"keySignature-{_key_name(token)}")
        elif token.startswith("*M"):
            out.append(f"timeSignature-{token[2:]}")
        elif token.startswith("*met(") and token[5:-1] in ("c", "c|"):
            out.append("timeSignature-C" + ("/" if token[5:-1] == "c|" else ""))
        elif token.startswith("multirest:"):
            out.append(f"multirest-{token[10:]}")
        elif token.startswith("="):
            out.append("barline")
        elif (note := _parse_note(token)) is not None:
            value = note["value"] + note["dots"]
            fermata = "_fermata" if ";" in token else ""
            if note["pitch"] == "r":
                out.append(f"rest-{value}{fermata}")
            else:
                step, octave = _pitch(note["pitch"])
                name = f"{step}{_accidental_name(note['acc'])}{octave}"
                if "]" in token or "_" in token[len(note["dur"]) :]:
                    out.append("tie")
                kind = "gracenote" if note["grace"] else "note"
                out.append(f"{kind}-{name}_{value}{fermata}")
    return " ".join(out)


def _position(steps: int) -> str:
    """Steps above the bottom line to ``L``/``S`` (L1 bottom line, S0 the space below)."""
    return f"L{steps // 2 + 1}" if steps % 2 == 0 else f"S{(steps + 1) // 2}"


def _steps(step: str, octave: int, clef: str) -> int:
    bottom_step, bottom_octave = _CLEF_BOTTOM[clef]
    return (octave * 7 + _STEPS.index(step)) - (bottom_octave * 7 + _STEPS.index(bottom_step))


def to_agnostic(text: str) -> str:
    out: list[str] = []
    clef = "G2"
    beam_open = False
    key: dict[str, str] = {}  # step -> alteration from the key signature
    measure: dict[tuple[str, int], str] = {}  # alterations shown in this measure
    for token in _monophonic(text):
        if token.startswith("*clef"):
            clef = token[5:]
            if clef not in _CLEF_BOTTOM:
                raise KernError(f"clef {clef} has no agnostic encoding")
            out.append(f"clef.{clef[0]}-L{clef[1]}")
        elif token.startswith("*k["):
            out += _key_signature(token, clef)
            key = {m[0].upper(): m[1:] for m in re.findall(r"[a-g](?:#+|-+)", token)}
        elif token.startswith("*M"):
            numerator, _, denominator = token[2:].partition("/")
            out += [f"digit.{numerator}-L4", f"digit.{denominator}-L2"]
        elif token.startswith("*met(") and token[5:-1] in ("c", "c|"):
            out.append("metersign.C" + ("/" if token[5:-1] == "c|" else "") + "-L3")
        elif token.startswith("multirest:"):
            out += [f"digit.{digit}-S5" for digit in token[10:]] + ["multirest-L3"]
        elif token.startswith("="):
            out.append("barline-L1")
            measure = {}
        elif (note := _parse_note(token)) is not None:
            value = note["value"]
            if note["pitch"] == "r":
                out.append(f"rest.{value}-L{4 if value == 'whole' else 3}")
                position = "S3"
            else:
                step, octave = _pitch(note["pitch"])
                steps = _steps(step, octave, clef)
                position = _position(steps)
                shown = measure.get((step, octave), key.get(step, ""))
                alteration = "" if note["acc"] == "n" else note["acc"]
                if alteration != shown:
                    name = {"#": "sharp", "-": "flat", "": "natural"}[alteration[:1]]
                    out.append(f"accidental.{name}-{position}")
                    measure[(step, octave)] = alteration
                ends = "]" in token or "_" in token[len(note["dur"]) :]
                out += [f"slur.end-{position}"] * (ends + token.count(")"))
                shape, beam_open = _beam_shape(token, note["dur"], beam_open)
                kind = "gracenote" if note["grace"] else "note"
                out.append(f"{kind}.{shape or value}-{position}")
                out += [f"slur.start-{position}"] * (("[" in token) + token.count("("))
                position = position if position.startswith("S") else f"S{position[1:]}"
            out += [f"dot-{position}"] * len(note["dots"])
            if ";" in token:
                out.append("fermata.above-S6")
    return " ".join(out)


def _beam_shape(token: str, duration: str, beam_open: bool) -> tuple[str | None, bool]:
    value = _value(duration)
    beams = _BEAMS.get(next((d for d, name in _DURATIONS.items() if name == value), ""))
    if beams is None:
        return None, beam_open
    if "L" in token:
        return f"beamedRight{beams}", True
    if "J" in token:
        return f"beamedLeft{beams}", False
    if beam_open:
        return f"beamedBoth{beams}", True
    return None, False


def _key_signature(token: str, clef: str) -> list[str]:
    """Treble-clef pattern moved to ``clef``: two octaves down for F clefs, folded
    into the staff for C clefs (so alto and soprano keep their usual shapes)."""
    sharps, flats = token.count("#"), token.count("-")
    pattern = _SHARP_STEPS[:sharps] if sharps else _FLAT_STEPS[:flats]
    name = "sharp" if sharps else "flat"
    offset = _steps("E", 4, clef)
    positions = []
    for steps in pattern:
        steps += offset
        if clef[0] == "F":
            steps -= 14
        elif clef[0] == "C":
            steps = steps - 7 if steps > 8 else steps + 7 if steps < 0 else steps
        positions.append(f"accidental.{name}-{_position(steps)}")
    return positions


_SEMANTIC_NOTE = re.compile(
    r"^(?P<kind>note|gracenote|rest)-(?:(?P<step>[A-G])(?P<acc>#{1,2}|b{1,2})?(?P<octave>\d)_)?"
    r"(?P<value>[a-z_]+?)(?P<dots>\.*)(?P<fermata>_fermata)?$"
)


def _kern_pitch(step: str, octave: int) -> str:
    return step.lower() * (octave - 3) if octave >= 4 else step * (4 - octave)


def _kern_key(name: str) -> str:
    key = name.removesuffix("M")
    if key in _SHARP_KEYS:
        return key_signature(_SHARP_KEYS.index(key))
    if key in _FLAT_KEYS:
        return key_signature(-_FLAT_KEYS.index(key))
    raise KernError(f"unknown key signature {name!r}")


def from_semantic(text: str) -> str:
    """PrIMuS semantic tokens back to one-line kern staff text.

    What semantic does not hold cannot come back: beams, naturals (semantic names
    pitches without them), tuplets (it names their written values). A multirest comes
    back as that many measures of rest, as kern writes one.
    """
    from quire.music.score import measure_rest

    durations = {name: digits for digits, name in _DURATIONS.items()}
    out: list[str] = []
    tie = False
    length = Fraction(1)
    for token in text.split():
        kind, _, value = token.partition("-")
        if kind == "timeSignature" and re.fullmatch(r"\d+/\d+", value):
            length = Fraction(*(int(v) for v in value.split("/")))
        if kind == "multirest" and value.isdigit():
            rest = measure_rest(length)
            out += " = ".join([rest] * int(value)).split()
        elif kind == "clef":
            out.append(f"*clef{value}")
        elif kind == "keySignature":
            out.append(_kern_key(value))
        elif kind == "timeSignature":
            out.append({"C": "*met(c)", "C/": "*met(c|)"}.get(value, f"*M{value}"))
        elif token == "barline":
            out.append("=")
        elif token == "tie":
            tie = True
            previous = next((i for i in range(len(out) - 1, -1, -1) if out[i][0].isdigit()), None)
            if previous is None:
                raise KernError("a tie before any note")
            out[previous] = (
                out[previous].replace("]", "_") if "]" in out[previous] else f"[{out[previous]}"
            )
        elif (note := _SEMANTIC_NOTE.match(token)) and note["value"] in durations:
            grace = "q" if note["kind"] == "gracenote" else ""
            pitch = "r"
            if note["kind"] != "rest":
                accidental = {"#": "#", "##": "##", "b": "-", "bb": "--"}.get(note["acc"] or "", "")
                pitch = _kern_pitch(note["step"], int(note["octave"])) + accidental
            token = f"{durations[note['value']]}{note['dots']}{pitch}{grace}" + (
                ";" if note["fermata"] else ""
            )
            out.append(f"{token}]" if tie else token)
            tie = False
        else:
            raise KernError(f"semantic token {token!r} has no kern counterpart here")
    return " ".join(out)


def staff_step(kern_pitch: str, clef: str) -> int | None:
    """Diatonic steps from ``clef``'s bottom line up to a note of ``kern_pitch`` (``None``
    for a clef not in the table): -2 and below need ledger lines under the staff, 10
    and above over it."""
    if clef not in _CLEF_BOTTOM:
        return None
    return _steps(*_pitch(kern_pitch), clef)


def _clef_shift(clef: str) -> int:
    """Diatonic steps from a note under ``clef`` to the note at the same place under G2
    (0 for a clef not in the table)."""
    if clef not in _CLEF_BOTTOM:
        return 0
    return -_steps(*_CLEF_BOTTOM[clef], "G2")


def _move_pitches(text: str, direction: int) -> str:
    shift, out = 0, []  # G2 until a clef says otherwise
    for token in text.split():
        if token.startswith("*clef"):
            shift = direction * _clef_shift(token[5:])
        note = _NOTE.match(token) if shift else None
        if note is None or note["pitch"] == "r":
            out.append(token)
            continue
        step, octave = _pitch(note["pitch"])
        place = octave * 7 + _STEPS.index(step) + shift
        pitch = _kern_pitch(_STEPS[place % 7], place // 7)
        out.append(token[: note.start("pitch")] + pitch + token[note.end("pitch") :])
    return " ".join(out)


def to_treble_places(text: str) -> str:
    """Kern staff text with every note renamed to the note at the same place on the
    staff under a G2 clef: what a reader sees without the clef (notes of C3 ``c`` and of
    F4 ``A`` sit where a G2 ``b`` and ``f`` would)."""
    return _move_pitches(text, 1)


def from_treble_places(text: str) -> str:
    """Inverse of :func:`to_treble_places`: each note named under its own clef again."""
    return _move_pitches(text, -1)


def to_kern(text: str, encoding: str) -> str:
    """One-line kern staff text from ``encoding`` (agnostic has no pitches: refused)."""
    if encoding == "kern":
        return text
    if encoding == "bekern":
        return text.replace("·", "")
    if encoding == "semantic":
        return from_semantic(text)
    raise KernError(f"{encoding} cannot be turned into kern (it names positions, not pitches)")


_ENCODERS: dict[str, Callable[[str], str]] = {
    "kern": lambda text: text,
    "bekern": to_bekern,
    "semantic": to_semantic,
    "agnostic": to_agnostic,
}

__all__ = [
    "CHORD_SEPARATOR",
    "ENCODINGS",
    "encode",
    "from_semantic",
    "from_treble_places",
    "to_kern",
    "to_treble_places",
]
