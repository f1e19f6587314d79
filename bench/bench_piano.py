"""The shipped staff model on real piano music, and the pipeline's speed on piano pages.

Accuracy: the keyboard pieces of bench/melodies.py (``piano``: two-staff systems
of real music as published) rendered by ``quire synth music --kern-dir`` at 150
dpi, clean and with a camera's degradations, cut by ``quire cut`` and read staff
by staff by models/staff-default. Figures: SER over the model's symbols and over
kern tokens, each notation class's recall (chords, two voices …), and the OMR-NED
of each page's score against the truth's (``quire evaluate pages``: the staves of
a system made to agree, compared by musicdiff), pooled over all pages.

Speed: scripts/inference-pipeline.sh (shipped models, local runner) on 10 generated
piano pages and on 10 generated monophonic pages, in the same run: pages per minute
of each, and their ratio.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEED_PAGES = 10
SEED = 9002  # not a seed of the shipped models' training data (configs/*.yaml)


def predicted_pages(truth: Path, readings: dict[str, str], out: Path, encoding: str) -> Path:
    """Copies of the truth's pages with every staff's text replaced by its reading."""
    from quire.pagexml import PageDocument

    out.mkdir(parents=True)
    for xml in sorted(truth.glob("*.xml")):
        doc = PageDocument.read(xml)
        for line in doc.text_lines():
            if line.is_staff:
                line.set_text(readings.get(f"{xml.stem}-{line.id}", ""))
                line.custom_set("encoding", {"name": encoding})
        doc.write(out / xml.name)
    return out


def piano_scores(model, folder: Path) -> dict:
    """Staff and score figures of ``model`` on the rendered, cut pages in ``folder``."""
    from bench.bench_recognize import staff_scores
    from bench.reading import read_listed
    from quire.evaluate import page_scores
    from quire.lists import read_list

    listing = folder / "lists" / "staves-gt.txt"
    entries, _ = read_list(listing)
    pairs = read_listed(model, listing)
    readings = {e.path.stem: read for e, (read, _) in zip(entries, pairs, strict=True)}
    encoding = model.vocabulary.encoding
    predicted = predicted_pages(folder / "page", readings, folder / "predicted", encoding)
    report = page_scores(predicted, folder / "page")
    return {
        **staff_scores(model, listing),
        "pages": report["pages"],
        "systems": _systems(folder / "page"),
        "omr_ned": round(report["score"]["omr_ned"], 4),
        "omr_edit_distance": report["score"]["omr_edit_distance"],
    }


def _systems(pages: Path) -> int:
    from quire.pagexml import PageDocument

    return sum(
        1
        for xml in pages.glob("*.xml")
        for region in PageDocument.read(xml).regions()
        if any(line.is_staff for line in region.text_lines())
    )


def pipeline_speed(folder: Path) -> dict:
    """Pages per minute of the inference pipeline on generated piano and monophonic
    pages, in this run."""
    from bench.bench_pipeline import timed_run
    from quire.config import SynthMusicConfig
    from quire.synth.music import synth_music

    figures = {}
    for kind in ("piano", "monophonic"):
        data = folder / f"{kind}-data"
        config = SynthMusicConfig(
            pages=SPEED_PAGES, seed=SEED, kind=kind, encoding="bekern", max_systems=6
        )
        synth_music(data, config)
        seconds, peak = timed_run(data / "images", folder / f"{kind}-out")
        figures[f"{kind}_pages_per_minute"] = round(60 * SPEED_PAGES / seconds, 2)
        figures[f"{kind}_peak_memory_mib"] = round(peak / 1024, 1)
        shutil.rmtree(data)
    figures["piano_to_monophonic_speed"] = round(
        figures["piano_pages_per_minute"] / figures["monophonic_pages_per_minute"], 3
    )
    return figures


def run() -> dict:
    import json

    from bench.bench_recognize import MODEL, held_out_staves
    from bench.melodies import cached_collection
    from quire.recognize.predict import RecognizerModel

    collection = cached_collection("piano")
    pieces = sorted(path.stem for path in collection.glob("*.krn"))
    figures: dict = {
        "pieces": len(pieces),
        "composers": len({piece.split("-")[0] for piece in pieces}),
        "skipped": json.loads((collection / "skipped.json").read_text()),
        "model": "models/staff-default",
    }
    model = RecognizerModel.load(MODEL, "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        for condition, camera in (("clean", 0.0), ("camera", 1.0)):
            folder = Path(tmp) / condition
            held_out_staves(folder, camera, model.vocabulary.encoding, "piano")
            figures[condition] = piano_scores(model, folder)
        figures["speed"] = pipeline_speed(Path(tmp))
    return figures
