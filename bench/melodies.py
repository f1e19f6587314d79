"""Real music for held-out tests, as published, in three collections of music21's corpus.

- ``folk``: tunes of the Essen and O'Neill collections (ABC), whole.
- ``quartets``: each instrument's part of the first 12 measures of string quartet
  movements by Haydn, Mozart and Beethoven (MusicXML): violins, viola (alto clef),
  cello (bass and tenor clefs), with their slurs, articulations, dynamics, grace
  notes, trills and tuplets.
- ``piano``: keyboard music whole, on two staves: pieces by J. S. and C. P. E.
  Bach, Mozart, Chopin, Clara Schumann, Joplin and Schoenberg, and the piano part
  (its two staves, the other parts left out) of songs and chamber music by
  Schubert, Handel, Weber and Clara Schumann.

converter21 writes each as Humdrum, which is rendered as written: nothing is
simplified to what quire's generator makes. Left out, and counted in
``skipped.json``: melodies quire cannot read as one-staff **kern (spine splits: two
voices or double stops on a staff, which the piano collection holds), pieces the
converters fail on, and pieces converter21 writes with tuplets of 128ths and
shorter where the score has none (a conversion's artefact, not the music).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

CACHE = Path(__file__).parent / "results" / "cache" / "real-music"
FOLK = ("essenFolksong", "oneills1850")
QUARTETS = ("haydn/opus", "mozart/k", "beethoven/opus")
EXCERPT_MEASURES = 12
PIANO = (
    "bach/bwv846.mxl",
    "chopin/mazurka06-2.krn",
    "cpebach/h186.mxl",
    "joplin/maple_leaf_rag.mxl",
    "mozart/k545/movement1_exposition.mxl",
    "schoenberg/opus19/movement2.mxl",
    "schoenberg/opus19/movement6.mxl",
    "schumann_clara/polonaise_op1n1.mxl",
    "schumann_clara/polonaise_op1n2.mxl",
    "schumann_clara/polonaise_op1n3.mxl",
    "schumann_clara/polonaise_op1n4.mxl",
    "handel/rinaldo/Lascia_chio_pianga.mxl",
    "schubert/Lindenbaum.xml",
    "schumann_clara/opus17/movement3.xml",
    "weber/concertino_clarinet.mxl",
)
_ARTEFACT = re.compile(r"(?<![\d%])\d{3,}%\d+")  # converter21's tuplets of 128ths and shorter


def _folk() -> Iterator[tuple[str, object]]:
    """(name, music21 score) of the folk tunes, at most two from one corpus file."""
    import music21
    from music21 import corpus

    sources = sorted(
        p for p in corpus.getPaths(fileExtensions=("abc",)) if Path(p).parent.name in FOLK
    )
    for source in sources:
        opus = music21.converter.parse(source)
        for number, score in enumerate(getattr(opus, "scores", [opus])[:2]):
            yield f"{Path(source).stem}-{number:03d}", score


def _quartets() -> Iterator[tuple[str, object]]:
    """(name, music21 part) of each part's first measures of each quartet movement."""
    import music21
    from music21 import corpus

    sources = sorted(
        p
        for p in corpus.getPaths(fileExtensions=("mxl",))
        if any(composer in str(p) for composer in QUARTETS)
    )
    for source in sources:
        score = music21.converter.parse(source)
        name = f"{Path(source).parent.name}-{Path(source).stem}"
        for number, part in enumerate(score.parts):
            yield f"{name}-part{number + 1}", part.measures(1, EXCERPT_MEASURES)


def _piano() -> Iterator[tuple[str, object]]:
    """(name, music21 score) of each keyboard piece: its two piano staves."""
    import music21
    from music21 import corpus

    for source in PIANO:
        score = corpus.parse(source)
        parts = [part for part in score.parts if "Piano" in str(part.partName)]
        if len(score.parts) > 2 and len(parts) == 2:  # a song's or a trio's piano part
            score = music21.stream.Score(parts)
        yield source.rsplit(".", 1)[0].replace("/", "-"), score


# name: (pieces, how many to write, whether a staff may split into voices)
COLLECTIONS: dict[str, tuple[Callable[[], Iterator[tuple[str, object]]], int, bool]] = {
    "folk": (_folk, 40, False),
    "quartets": (_quartets, 60, False),
    "piano": (_piano, len(PIANO), True),
}
MELODIES = [name for name, (_, _, voices) in COLLECTIONS.items() if not voices]


def write_collection(
    folder: Path, pieces: Iterator[tuple[str, object]], count: int, voices: bool
) -> None:
    """Write up to ``count`` pieces quire can read to ``folder/<name>.krn`` (with spine
    splits only where ``voices``), and what was left out, by reason, to
    ``folder/skipped.json``."""
    import converter21

    from quire.music.kern import KernError, parse_kern

    converter21.register(converter21.ConverterName.HUMDRUM)
    folder.mkdir(parents=True, exist_ok=True)
    skipped: Counter[str] = Counter()
    written = 0
    for name, music in pieces:
        if written >= count:
            break
        path = folder / f"{name}.krn"
        try:
            music.write("humdrum", fp=path)
            kern = path.read_text(encoding="utf-8")
            parse_kern(kern)
            if not voices and "*^" in kern:
                raise KernError("spine splits are not supported")
            if _ARTEFACT.search(kern):
                raise KernError("converter: tuplets of 128ths and shorter")
        except KernError as exc:
            skipped[str(exc).split(": ", 1)[-1]] += 1
            path.unlink(missing_ok=True)
            continue
        except Exception as exc:  # a piece the converters cannot write is counted
            skipped[f"converter: {type(exc).__name__}"] += 1
            path.unlink(missing_ok=True)
            continue
        written += 1
    (folder / "skipped.json").write_text(json.dumps(dict(skipped), indent=1) + "\n")


def cached_collection(name: str) -> Path:
    """The folder of collection ``name`` in ``CACHE``, written there on first use (into a
    scratch folder renamed when complete, so that an interrupted build leaves none)."""
    folder = CACHE / name
    if not folder.is_dir():
        partial = folder.with_name(f"{name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        pieces, count, voices = COLLECTIONS[name]
        write_collection(partial, pieces(), count, voices)
        partial.rename(folder)
    return folder
