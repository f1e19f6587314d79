"""Real melodies for held-out tests: folk tunes of music21's corpus as one-staff **kern.

The tunes (ABC, from the Essen and O'Neill collections that ship with music21)
are written as Humdrum by converter21 and reduced to what quire's generator
also writes, so that a transcription holds only what the page shows: notes,
rests, dots, accidentals, ties, one beam mark per group end, fermatas, barlines,
clef, key and meter. Tunes with chords, grace notes, tuplets or several spines
are skipped; each keeps its first ``measures`` measures.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

COLLECTIONS = ("essenFolksong", "oneills1850")
CACHE = Path(__file__).parent / "results" / "cache" / "melodies"
_DURATIONS = {"1", "2", "4", "8", "16", "32"}
_NOTE = re.compile(r"^\[?(\d+)\.*([a-gA-G]+|r)")
_KEEP = set("0123456789.abcdefgABCDEFGr#-n[]_LJ;")


def _clean_note(token: str) -> str | None:
    """The token reduced to the generator's marks, or None when it cannot be kept."""
    if " " in token or "q" in token.lower():
        return None
    kept = "".join(c for c in token if c in _KEEP)
    match = _NOTE.match(kept)
    if not match or match[1] not in _DURATIONS:
        return None
    return kept


def _outer_beam(token: str, depth: int) -> tuple[str, int]:
    """The note with only its outermost beam's marks, and the beam depth after it.

    Kern writes one ``L`` / ``J`` per beam level (``8aL 16aL 16ddJJ``); the page
    engraves one group, written as the generator writes it (``8aL 16a 16ddJ``).
    """
    after = max(0, depth + token.count("L") - token.count("J"))
    mark = "L" if depth == 0 and after > 0 else "J" if depth > 0 and after == 0 else ""
    at = min((token.index(c) for c in "LJ" if c in token), default=len(token))
    bare = token.replace("L", "").replace("J", "")
    return bare[:at] + mark + bare[at:], after


def _reduce(humdrum: str, measures: int) -> str | None:
    """One-spine kern of the first ``measures`` measures, or None when unusable."""
    out, bars, beams = [], 0, 0
    for line in humdrum.splitlines():
        if not line or line.startswith("!"):
            continue
        fields = line.split("\t")
        if fields[0].startswith("**"):
            if fields.count("**kern") != 1:
                return None
            column = fields.index("**kern")
            out.append("**kern")
            continue
        token = fields[column]
        if token in ("*^", "*v", "*+", "*x"):
            return None
        if token.startswith("="):
            if not any(_NOTE.match(t) for t in out):
                continue  # a barline before the first note is not engraved
            bars += 1
            if bars > measures:
                break
            out.append(token)
        elif token.startswith("*"):
            if token.startswith(("*clef", "*k[", "*met(")) or re.match(r"^\*M\d+/\d+$", token):
                out.append(token)
        elif token != ".":
            note = _clean_note(token)
            if note is None:
                return None
            note, beams = _outer_beam(note, beams)
            out.append(note)
    if sum(1 for t in out if _NOTE.match(t)) < 8:
        return None
    while out[-1].startswith("="):
        out.pop()  # the final barline ends the last measure: one barline, as engraved
    return "\n".join([*out, "==", "*-"]) + "\n"


def write_melodies(folder: Path, count: int, measures: int = 16, per_source: int = 2) -> None:
    """Write up to ``count`` real melodies to ``folder/<name>.krn`` (at most ``per_source``
    from one corpus file, for variety)."""
    import converter21
    import music21
    from music21 import corpus

    converter21.register(converter21.ConverterName.HUMDRUM)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    sources = sorted(
        p for p in corpus.getPaths(fileExtensions=("abc",)) if Path(p).parent.name in COLLECTIONS
    )
    for source in sources:
        opus = music21.converter.parse(source)
        taken = 0
        for number, score in enumerate(getattr(opus, "scores", [opus])):
            if written >= count:
                return
            if taken >= per_source:
                break
            path = folder / f"{Path(source).stem}-{number:03d}.krn"
            try:
                score.write("humdrum", fp=path)
                kern = _reduce(path.read_text(encoding="utf-8"), measures)
            except Exception:  # a tune the converters cannot handle is skipped
                kern = None
            if kern is None:
                path.unlink(missing_ok=True)
                continue
            path.write_text(kern, encoding="utf-8")
            written += 1
            taken += 1


def cached_melodies(count: int = 40) -> list[Path]:
    """The held-out melodies kept in ``CACHE``, written there on first use (into a
    scratch folder renamed when complete, so that an interrupted build leaves none)."""
    if not CACHE.is_dir():
        partial = CACHE.with_name(f"{CACHE.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        write_melodies(partial, count)
        partial.rename(CACHE)
    return sorted(CACHE.glob("*.krn"))
