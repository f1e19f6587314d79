"""Real music for held-out tests, as published, in two collections of music21's corpus.

- ``folk``: tunes of the Essen and O'Neill collections (ABC), whole.
- ``quartets``: each instrument's part of the first 12 measures of string quartet
  movements by Haydn, Mozart and Beethoven (MusicXML): violins, viola (alto clef),
  cello (bass and tenor clefs), with their slurs, articulations, dynamics, grace
  notes, trills and tuplets.

converter21 writes each as Humdrum, which is rendered as written: nothing is
simplified to what quire's generator makes. Left out, and counted in
``skipped.json``: pieces quire cannot read as one-staff **kern (spine splits: two
voices or double stops on a staff, which are piano music's issue, not a melody's)
and pieces the converters fail on.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

CACHE = Path(__file__).parent / "results" / "cache" / "real-music"
FOLK = ("essenFolksong", "oneills1850")
QUARTETS = ("haydn/opus", "mozart/k", "beethoven/opus")
EXCERPT_MEASURES = 12


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


COLLECTIONS: dict[str, tuple[Callable[[], Iterator[tuple[str, object]]], int]] = {
    "folk": (_folk, 40),
    "quartets": (_quartets, 60),
}


def write_collection(folder: Path, pieces: Iterator[tuple[str, object]], count: int) -> None:
    """Write up to ``count`` pieces quire can read to ``folder/<name>.krn``, and what was
    left out, by reason, to ``folder/skipped.json``."""
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
            parse_kern(path.read_text(encoding="utf-8"))
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
        pieces, count = COLLECTIONS[name]
        write_collection(partial, pieces(), count)
        partial.rename(folder)
    return folder
