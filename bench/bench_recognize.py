"""Staves per second for ``recognize predict``, and the shipped staff model's SER.

Held-out staves: real music of two collections of music21's corpus as published
(bench/melodies.py: folk tunes; string quartet parts), rendered by ``quire synth
music --kern-dir`` at 150 dpi, clean and with a camera's degradations, cut by
``quire cut``. Speed: quire's default network (the
shipped model) against the PrIMuS paper's CRNN preset, both recognizing the
same staves in batches of 16 in this process, greedy decoding included;
medians of three runs. Accuracy: the shipped model's SER over its own symbols
(bekern pieces) and over whole kern tokens (both sides turned into kern).
``QUIRE_BENCH_DEVICE=cuda`` runs all of it on a GPU (bench/timing.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "staff-default"
BATCH = 16
SPEED_STAVES = 64


def rendered_staves(folder: Path, config, kern_dir: Path | None = None) -> Path:
    """Pages rendered by ``config`` (from ``kern_dir`` when given) into ``folder`` and
    cut into staves; returns their ground-truth list."""
    from quire.config import CutConfig
    from quire.cut import cut
    from quire.synth.music import synth_music

    synth_music(folder, config, kern_dir)
    cut(folder / "images", folder, CutConfig())
    return folder / "lists" / "staves-gt.txt"


def held_out_staves(folder: Path, camera: float, encoding: str, collection: str = "folk") -> Path:
    """The staves of a cached held-out collection rendered at 150 dpi (all photographed
    when ``camera`` is 1) and cut; returns their ground-truth list."""
    from bench.melodies import cached_collection
    from quire.config import SynthMusicConfig

    config = SynthMusicConfig(
        dpi=150, encoding=encoding, kind="monophonic", camera_chance=camera, seed=11
    )
    return rendered_staves(folder, config, cached_collection(collection))


def staff_scores(model, listing: Path) -> dict:
    """SER of ``model`` on the staves of ``listing``, over its tokens and over kern's,
    and its recall of each notation class."""
    from bench.reading import read_listed
    from quire.evaluate import error_rates, feature_recall
    from quire.music.encodings import to_kern

    pairs = read_listed(model, listing)
    encoding = model.vocabulary.encoding
    own = error_rates(pairs, encoding)
    kern = error_rates([(to_kern(a, encoding), to_kern(b, encoding)) for a, b in pairs], "kern")
    return {
        "staves": len(pairs),
        "ser": own["ser"],
        "ser_kern_tokens": kern["ser"],
        "ler": own["ler"],
        "features": feature_recall(pairs, encoding),
    }


def run() -> dict:
    import json

    import torch

    from bench.melodies import MELODIES, cached_collection
    from bench.reading import snippets_per_second
    from bench.timing import bench_device, device_figures
    from quire.lists import read_list
    from quire.recognize.network import PRESETS, Recognizer
    from quire.recognize.predict import RecognizerModel
    from quire.recognize.vocabulary import Vocabulary

    shipped = MODEL.exists()
    device = bench_device()
    figures: dict = {"batch_size": BATCH, **device_figures(device)}
    for name in MELODIES:
        folder = cached_collection(name)
        figures[f"{name}_pieces"] = len(list(folder.glob("*.krn")))
        figures[f"{name}_skipped"] = json.loads((folder / "skipped.json").read_text())

    def untrained(preset: str, vocabulary: Vocabulary) -> RecognizerModel:
        net = Recognizer(PRESETS[preset], vocabulary.size).to(device).eval()
        return RecognizerModel(net, vocabulary, {}, torch.device(device))

    with tempfile.TemporaryDirectory() as tmp:
        encoding = "bekern"
        held = {
            (name, condition): held_out_staves(
                Path(tmp) / f"{name}-{condition}", camera, encoding, name
            )
            for name in MELODIES
            for condition, camera in (("clean", 0.0), ("camera", 1.0))
        }
        entries, _ = read_list(held[("folk", "clean")])
        if shipped:
            model = RecognizerModel.load(MODEL, device)
        else:  # speed only: an untrained default net
            texts = [e.text for e in entries]
            model = untrained("default", Vocabulary.from_texts(texts, encoding, "NFC"))
        primus = untrained("primus", model.vocabulary)
        sample = [e.path for e in entries[:SPEED_STAVES]]
        for name, candidate in (("default", model), ("primus", primus)):
            rate = snippets_per_second(candidate, sample, BATCH)
            figures[f"{name}_staves_per_second"] = rate
        figures["speedup"] = round(
            figures["default_staves_per_second"] / figures["primus_staves_per_second"], 2
        )
        if shipped:
            figures["model"] = "models/staff-default"
            for (name, condition), listing in held.items():
                figures.setdefault(name, {})[condition] = staff_scores(model, listing)
            figures["model_validation"] = model.meta.get("metrics", {})
    return figures
