"""SER of quire's default staff network against the PrIMuS paper's CRNN at equal training.

Both presets are trained in this run exactly as the first step of the shipped staff
model's recipe (configs/staff-default.yaml: its pages, epochs, staves per epoch and
optimiser settings; only the architecture differs), then read the held-out folk
melodies of bench_recognize, clean and photographed. Training figures are wall
time of the whole training, validation included. On the 2-core development CPU
that is about 70 minutes for the default and about 7 hours for the PrIMuS preset
(2.6 staves a second), so ``make bench`` leaves it out; it is meant for a machine
with a GPU: ``python -m bench bench_recognize_training``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "configs" / "staff-default.yaml"
PRESETS = ("default", "primus")
ON_REQUEST = True


def _train(listing: Path, model_dir: Path, preset: str) -> dict:
    from quire.config import RecognizeTrainConfig, build_config
    from quire.recognize.train import train_recognizer

    config = build_config(RecognizeTrainConfig, RECIPE, {"architecture": preset})
    start = time.monotonic()
    train_recognizer([listing], model_dir, config)
    return {"training_seconds": round(time.monotonic() - start, 1)}


def run() -> dict:
    from bench.bench_recognize import held_out_staves, rendered_staves, staff_scores
    from bench.melodies import cached_collection
    from quire.config import SynthMusicConfig, build_config
    from quire.recognize.predict import RecognizerModel

    melodies = list(cached_collection("folk").glob("*.krn"))
    figures: dict = {"recipe": str(RECIPE.relative_to(REPO))}
    with tempfile.TemporaryDirectory() as tmp:
        recipe = build_config(SynthMusicConfig, RECIPE, {})
        listing = rendered_staves(Path(tmp) / "train", recipe)
        held = {
            "clean": held_out_staves(Path(tmp) / "clean", 0.0, "bekern"),
            "camera": held_out_staves(Path(tmp) / "camera", 1.0, "bekern"),
        }
        for preset in PRESETS:
            model_dir = Path(tmp) / preset
            record = _train(listing, model_dir, preset)
            model = RecognizerModel.load(model_dir, "cpu")
            best = model.meta["metrics"]["validation"]
            record |= {"best_epoch": best["epoch"], "validation_ser": best["ser"]}
            for condition, staves in held.items():
                record[condition] = staff_scores(model, staves)
            figures[preset] = record
    figures["melodies"] = len(melodies)
    for condition in ("clean", "camera"):
        ratio = figures["primus"][condition]["ser"] / max(
            figures["default"][condition]["ser"], 1e-9
        )
        figures[f"{condition}_ser_primus_over_default"] = round(ratio, 2)
    return figures
