"""Staff transcriptions read from what Verovio engraved, not from the kern it was given.

A page's ground truth must be what the page shows. So each staff's tokens are
taken from Verovio's SVG and its element attributes (``toolkit.getElementAttr``),
in the order drawn: the clef, key signature and meter signs a staff starts with
(drawn by default or by the file, meters as ``C`` / ``C|`` where drawn so), its
notes, rests and grace notes with the accidentals drawn, tuplet durations, the
barlines drawn, and the marks attached to notes (ties, slurs, phrase brackets,
fermatas, articulations, ornaments). Signs drawn at a system's end to announce a
change (courtesy clef, key, meter) are named after the signs they announce.

A staff that draws two layers (voices) in a measure splits its spine there (``*^``,
after the measure's opening signs) and joins it (``*v`` in each field) where a
measure draws one again or its system ends, so each staff of a system starts and
ends with one field. Records are the **kern lines Verovio names its elements by:
what two layers draw on one line is one record, ``.`` where a voice holds, and a
voice's invisible rests (space drawn as nothing) are ``ryy``.

Tokens are **kern: a pitch carries the accidental it sounds with (drawn, or from
the key or the measure), as kern spells pitches; a whole-measure
rest is a rest of the measure's length and a multi-measure rest of ``n`` measures
is written out as ``n`` such measures, as the Humdrum reference encodes them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from quire.music.kern import JOIN, SPLIT, key_signature
from quire.music.score import measure_rest

if TYPE_CHECKING:
    import verovio
    from lxml import etree

_SVG = "{http://www.w3.org/2000/svg}"
_SOUNDING = {"s": "#", "f": "-", "ss": "##", "x": "##", "ff": "--", "n": "", "nf": "-", "ns": "#"}
_ARTICULATIONS = {"stacc": "'", "stacciss": "`", "acc": "^", "ten": "~", "marc": "^^"}
_ORNAMENTS = {"fermata": ";", "trill": "T", "mordent": "M", "turn": "S"}
_BARLINES = {
    "single": "=",
    "dbl": "=||",
    "end": "==",
    "rptend": "=:|!",
    "rptstart": "=!|:",
    "rptboth": "=:|!|:",
    "dashed": "=",
    "dotted": "=",
}
_LINE_OF = re.compile(r"-L(\d+)F")
# A chord symbol's sharps and flats, as engrave() leaves them.
_HARM_GLYPHS = str.maketrans({"\u266f": "#", "\u266d": "b"})
_HARM_TEXT = re.compile(r"([A-G][#b]?)([^/]*)(/[A-G][#b]?)?")
_SIGNS = ("clef", "keySig", "meterSig", "meterSigGrp", "mensur")
_GROUPS = ("bTrem", "fTrem", "graceGrp")  # layer elements that hold notes
_REST = re.compile(r"[\d%.]+r")


@dataclass
class _Marks:
    """What control events attach to one note or chord."""

    before: str = ""  # slur, phrase and tie openings
    after: str = ""  # slur, phrase and tie endings
    ornaments: str = ""


@dataclass
class _Event:
    """One drawn item of a layer, before its marks are known."""

    ident: str
    notes: list[tuple[str, str]]  # (id, kern) of a note or rest, of each note of a chord
    beam: str = ""  # L or J
    sign: bool = False  # a clef change inside the layer, or a multirest's measures


@dataclass
class Transcriber:
    """Reads staff tokens from the engraved pages of one Verovio toolkit, in order.

    The meter in force is carried from page to page (a whole-measure rest lasts a
    measure of it), as is each staff's pending courtesy signs.
    """

    toolkit: verovio.toolkit
    attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    marks: dict[str, _Marks] = field(default_factory=lambda: defaultdict(_Marks))
    meter: dict[int, Fraction] = field(default_factory=dict)

    def attr(self, ident: str) -> dict[str, str]:
        """The attributes Verovio gives element ``ident`` (none for an element it drew
        without one, such as a courtesy sign)."""
        if ident not in self.attrs:
            self.attrs[ident] = dict(self.toolkit.getElementAttr(ident)) if ident else {}
        return self.attrs[ident]

    def pages(self, roots: list[etree._Element]) -> list[list[dict[int, list[str]]]]:
        """Per page, per system: each staff's tokens by Humdrum field."""
        for root in roots:
            self._collect_marks(root)
        pages = [[self._system(system) for system in _classed(root, "system")] for root in roots]
        _resolve_courtesy([system for page in pages for system in page])
        return [
            [{f: [t for t in tokens if t] for f, tokens in s.items()} for s in p] for p in pages
        ]

    def _collect_marks(self, root: etree._Element) -> None:
        seen = set()
        for group in root.iter(f"{_SVG}g"):
            kind = group.get("class", "").split(" ")[0]
            ident = group.get("id", "")
            if kind not in ("tie", "slur", "bracketSpan", "phrase", *_ORNAMENTS) or ident in seen:
                continue
            seen.add(ident)
            attrs = self.attr(ident)
            start, end = attrs.get("startid", "")[1:], attrs.get("endid", "")[1:]
            if kind in _ORNAMENTS:
                if start:
                    self.marks[start].ornaments += _ORNAMENTS[kind]
                continue
            if kind == "bracketSpan" and attrs.get("func") != "phrase":
                continue
            opening, closing = {"tie": ("[", "]"), "slur": ("(", ")")}.get(kind, ("{", "}"))
            if start:
                self.marks[start].before += opening
            if end:
                self.marks[end].after += closing

    def _system(self, system: etree._Element) -> dict[int, list[str]]:
        staves: dict[int, list[str]] = defaultdict(list)
        widths: dict[int, int] = defaultdict(lambda: 1)  # fields each staff's spine has
        ending = ""
        for element in system.iter(f"{_SVG}g"):
            kind = element.get("class", "").split(" ")[0]
            if kind == "ending":
                ending = f"*>{self.attr(element.get('id', '')).get('n', '')}"
            if kind != "measure":
                continue
            bars = self.attr(element.get("id", ""))
            harms = self._harms(element)
            for staff in element:
                if staff.get("class") != "staff" or not staff.get("data-n"):
                    continue
                number = int(staff.get("data-n"))
                tokens = staves[number]
                if bars.get("left") in ("rptstart", "rptboth"):
                    _add_barline(tokens, "=!|:", widths[number])
                if ending:
                    tokens.append(_spread(ending, widths[number]))
                body, courtesy, widths[number] = self._staff(
                    staff, number, harms.get(number, []), widths[number]
                )
                tokens += body
                right = bars.get("right", "single")
                if right in _BARLINES:
                    _add_barline(tokens, _BARLINES[right], widths[number])
                tokens += courtesy
            ending = ""
        for number, width in widths.items():
            if width > 1:  # a system's staff ends as it starts: one field
                tokens = staves[number]
                at = len(tokens)
                while at and tokens[at - 1].startswith("courtesy:"):
                    at -= 1
                tokens.insert(at, _spread(JOIN, width))
        return staves

    def _harms(self, measure: etree._Element) -> dict[int, list[tuple[int, str]]]:
        """The chord symbols of a measure per staff number: (Humdrum line, token)."""
        harms: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for element in measure:
            line = _LINE_OF.search(element.get("id", ""))
            if element.get("class", "").split(" ")[0] != "harm" or not line:
                continue
            staff = self.attr(element.get("id", "")).get("staff", "")
            text = "".join("".join(element.itertext()).split()).translate(_HARM_GLYPHS)
            if staff.isdigit() and text:
                harms[int(staff)].append((int(line[1]), harm_token(text)))
        return harms

    def _staff(
        self, staff: etree._Element, number: int, harms: list[tuple[int, str]], width: int
    ) -> tuple[list[str], list[str], int]:
        """The staff's records in one measure, the courtesy signs drawn after its barline
        at a system's end, and how many fields its spine has after the measure."""
        signs: list[str] = []
        layers: list[list[tuple[int, str]]] = []
        courtesy: list[str] = []
        for child in staff:
            kind = child.get("class", "").split(" ")[0]
            if kind == "layer":
                drawn = self._layer(child, number, harms if not layers else [])
                if any(not token.endswith("ryy") and token[0] != "*" for _, token in drawn):
                    layers.append(drawn)
            elif kind in _SIGNS and _after_layer(child):
                if kind != "keySig" or _key_accidentals(child):
                    courtesy.append(f"courtesy:{'meterSig' if kind.startswith('meter') else kind}")
            elif kind in _SIGNS:
                signs.append(self._sign(kind, child, number))
        voices = max(len(layers), 1)
        tokens = []
        if width > 1 and voices != width:
            tokens.append(_spread(JOIN, width))
            width = 1
        tokens += [_spread(sign, width) for sign in signs]
        while width < voices:  # split the last field until there is one per voice
            tokens.append("\t".join(["*"] * (width - 1) + [SPLIT]))
            width += 1
        if len(layers) == 1:  # one voice: what it draws, no invisible rests
            tokens += [token for _, token in layers[0] if not token.endswith("ryy")]
        elif layers:
            tokens += _records(layers)
        return tokens, courtesy, width

    def _sign(self, kind: str, element: etree._Element, number: int) -> str:
        attrs = self.attr(element.get("id", ""))
        if kind == "clef":
            return f"*clef{attrs.get('shape', 'G')}{attrs.get('line', '')}"
        if kind == "keySig":
            return _key_token(attrs, element)
        if kind in ("meterSig", "meterSigGrp"):
            if element.get("visibility") == "hidden" or attrs.get("visible") == "false":
                return ""  # Verovio hides some meters it was given (a C with its count)
            count, unit = attrs.get("count", ""), attrs.get("unit", "")
            if count and unit:
                self.meter[number] = Fraction(sum(int(c) for c in count.split("+")), int(unit))
            symbol = attrs.get("sym")
            if symbol == "common":
                return "*met(c)"
            if symbol == "cut":
                return "*met(c|)"
            return f"*M{count}/{unit}" if count and unit else ""
        if kind == "mensur" and attrs.get("sign"):  # a mensural sign, *met(C) in kern
            return f"*met({attrs['sign']}{'|' if attrs.get('slash') else ''})"
        return ""

    def _layer(
        self, layer: etree._Element, number: int, harms: list[tuple[int, str]]
    ) -> list[tuple[int, str]]:
        """A layer's tokens with the Humdrum line each was engraved from (an item
        Verovio names by no line shares the line of the one before it)."""
        events: list[_Event] = []
        self._walk(layer, Fraction(1), events, number)
        tokens: list[tuple[int, str]] = []
        waiting = sorted(harms)
        line = 0
        for event in events:
            found = _LINE_OF.search(event.ident)
            line = int(found[1]) if found else line
            while waiting and found and waiting[0][0] <= line:
                tokens.append(waiting.pop(0))  # a chord symbol over the note it names
            if event.sign:
                tokens += [(line, body) for _, body in event.notes]
                continue
            marks = self.marks.get(event.ident, _Marks())
            notes = []
            for k, (ident, body) in enumerate(event.notes):
                own = self.marks.get(ident, _Marks()) if ident != event.ident else _Marks()
                before = marks.before + own.before
                after = own.after + marks.after
                extra = marks.ornaments + own.ornaments
                beam = event.beam if k == 0 else ""
                notes.append(_ordered(before, body + extra + beam, after))
            tokens.append((line, " ".join(notes)))
        return tokens + waiting

    def _walk(
        self, parent: etree._Element, ratio: Fraction, out: list[_Event], number: int
    ) -> None:
        for child in parent:
            if child.tag != f"{_SVG}g":
                continue
            kind = child.get("class", "").split(" ")[0]
            ident = child.get("id", "")
            if kind == "tuplet":
                attrs = self.attr(ident)
                scale = Fraction(int(attrs.get("num", 1)), int(attrs.get("numbase", 1)))
                self._walk(child, ratio * scale, out, number)
            elif kind == "beam":
                first = len(out)
                self._walk(child, ratio, out, number)
                notes = [e for e in out[first:] if not e.sign and not _REST.match(e.notes[0][1])]
                if len(notes) > 1:  # kern beams notes: a beam's rests are not its ends
                    notes[0].beam, notes[-1].beam = "L", "J"
            elif kind == "clef":
                out.append(_Event(ident, [("", self._sign("clef", child, number))], sign=True))
            elif kind == "note":
                out.append(_Event(ident, [(ident, self._note(child, self.attr(ident), ratio))]))
            elif kind == "chord":
                out.append(self._chord(child, ratio))
            elif kind == "rest":
                out.append(_Event(ident, [(ident, f"{_recip(self.attr(ident), ratio)}r")]))
            elif kind == "space":  # an invisible rest: what keeps a voice's time
                out.append(_Event(ident, [(ident, f"{_recip(self.attr(ident), ratio)}ryy")]))
            elif kind in ("mRest", "multiRest"):
                rest = self._measure_rest(number)
                count = int(self.attr(ident).get("num", 1)) if kind == "multiRest" else 1
                out.append(_Event(ident, [(ident, rest)]))
                for _ in range(count - 1):
                    out.append(_Event("", [("", "=")], sign=True))
                    out.append(_Event("", [("", rest)], sign=True))
            elif kind in _GROUPS:  # tremolos, grace groups: what they hold is drawn
                self._walk(child, ratio, out, number)

    def _chord(self, chord: etree._Element, ratio: Fraction) -> _Event:
        """A chord's notes (its duration and articulations are the chord's)."""
        attrs = self.attr(chord.get("id", ""))
        notes = [
            (
                note.get("id", ""),
                self._note(note, {**attrs, **self.attr(note.get("id", ""))}, ratio),
            )
            for note in chord.iter(f"{_SVG}g")
            if note.get("class", "").split(" ")[0] == "note"
        ]
        shared = "".join(
            self._articulations(child) for child in chord if child.get("class") == "artic"
        )
        if notes and shared:
            notes[0] = (notes[0][0], notes[0][1] + shared)
        return _Event(chord.get("id", ""), notes)

    def _articulations(self, artic: etree._Element) -> str:
        names = self.attr(artic.get("id", "")).get("artic", "").split()
        return "".join(_ARTICULATIONS.get(name, "") for name in names)

    def _measure_rest(self, number: int) -> str:
        return measure_rest(self.meter.get(number, Fraction(1)))

    def _note(self, element: etree._Element, attrs: dict[str, str], ratio: Fraction) -> str:
        pitch = attrs.get("pname", "c")
        octave = int(attrs.get("oct", 4))
        name = pitch * (octave - 3) if octave >= 4 else pitch.upper() * (4 - octave)
        accidental = ""
        artics = ""
        for child in element.iter(f"{_SVG}g"):
            kind = child.get("class", "").split(" ")[0]
            if kind == "accid":  # drawn (accid) or from the key or measure (accid.ges)
                found = self.attr(child.get("id", ""))
                accidental = _SOUNDING.get(found.get("accid", found.get("accid.ges", "")), "")
            elif kind == "artic":
                artics += self._articulations(child)
        grace = {"unacc": "q", "acc": "qq"}.get(attrs.get("grace", ""), "")
        return f"{_recip(attrs, ratio)}{name}{accidental}{grace}{artics}"


def harm_token(text: str) -> str:
    """The token of a chord symbol as drawn: ``*harm:`` and its root, then ``:`` and its
    kind, then ``/`` and its bass (``*harm:F#:m7/E``); text that names no root (``N.C.``)
    as it is."""
    found = _HARM_TEXT.fullmatch(text)
    if found is None:
        return f"*harm:{text}"
    root, kind, bass = found.groups()
    return f"*harm:{root}" + (f":{kind}" if kind else "") + (bass or "")


def _classed(root: etree._Element, kind: str) -> list[etree._Element]:
    return [g for g in root.iter(f"{_SVG}g") if g.get("class", "").split(" ")[0] == kind]


def _recip(attrs: dict[str, str], ratio: Fraction) -> str:
    """Kern duration of a note or rest of ``@dur`` (and dots) inside tuplets of ``ratio``."""
    dur = attrs.get("dur", "4")
    dots = "." * int(attrs.get("dots", 0) or 0)
    base = {"breve": Fraction(1, 2), "long": Fraction(1, 4)}.get(dur) or Fraction(int(dur))
    value = base * ratio
    if value.denominator == 1:
        text = str(value.numerator)
    elif value.numerator == 1:
        text = "0" * value.denominator.bit_length()  # 1/2 → 0 (breve), 1/4 → 00
    else:
        text = f"{value.numerator}%{value.denominator}"
    return text + dots


def _key_token(attrs: dict[str, str], element: etree._Element) -> str:
    """``*k[...]`` of a drawn key signature; nothing for an empty one (no accidentals drawn)."""
    sig = attrs.get("sig", "")
    if not _key_accidentals(element):
        return ""
    count = int(sig[:-1] or 0) if sig not in ("", "0") else 0
    return key_signature(-count if sig.endswith("f") else count)  # 0: naturals cancelling


def _key_accidentals(element: etree._Element) -> int:
    return sum(g.get("class", "").startswith("keyAccid") for g in element.iter(f"{_SVG}g"))


def _after_layer(element: etree._Element) -> bool:
    return any(s.get("class") == "layer" for s in element.itersiblings(preceding=True))


def _ordered(before: str, body: str, after: str) -> str:
    """A kern note with its opening marks first and closing marks last; a note that
    both ends and starts ties carries ``_``."""
    if "[" in before and "]" in after:
        before, after = before.replace("[", "", 1), after.replace("]", "_", 1)
    opens = "".join(sorted(before, key="{([".index))
    closes = "".join(sorted(after, key="]_)}".index))
    return opens + body + closes


def _add_barline(tokens: list[str], barline: str, width: int) -> None:
    """Append a drawn barline in each of ``width`` fields, merged with one just before
    it (a repeat start after a barline is one barline)."""
    if tokens and tokens[-1].startswith("=") and barline == "=!|:":
        barline = {"=:|!": "=:|!|:"}.get(tokens[-1].split("\t")[0], "=!|:")
        tokens[-1] = _spread(barline, width)
    else:
        tokens.append(_spread(barline, width))


def _spread(token: str, width: int) -> str:
    """An interpretation or barline as a record of ``width`` fields (nothing stays
    nothing)."""
    return "\t".join([token] * width) if token else ""


def _records(layers: list[list[tuple[int, str]]]) -> list[str]:
    """Records of what several layers draw, a field each: the items engraved from one
    Humdrum line make one record (interpretations before notes), ``*`` or ``.`` where
    a layer draws nothing on it."""
    lines = sorted({line for layer in layers for line, _ in layer})
    records = []
    for line in lines:
        items = [[token for at, token in layer if at == line] for layer in layers]
        for signs in (True, False):
            chosen = [[t for t in tokens if t.startswith("*") == signs] for tokens in items]
            null = "*" if signs else "."
            for row in range(max(len(tokens) for tokens in chosen)):
                fields = [tokens[row] if row < len(tokens) else null for tokens in chosen]
                records.append("\t".join(fields))
    return records


def _resolve_courtesy(systems: list[dict[int, list[str]]]) -> None:
    """Name each courtesy sign after the sign of its kind that opens the next system."""
    for k, system in enumerate(systems):
        for number, tokens in system.items():
            for i, token in enumerate(tokens):
                if not token.startswith("courtesy:"):
                    continue
                kind = token.split(":")[1]
                prefix = {"clef": "*clef", "keySig": "*k[", "meterSig": ("*M", "*met(")}[kind]
                later = (
                    t for s in systems[k + 1 :] for t in s.get(number, []) if t.startswith(prefix)
                )
                tokens[i] = next(later, "")
