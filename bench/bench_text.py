"""CER of the shipped text model on synthetic lines in a font it never saw, and lines / s.

Held-out lines: prose from ``quire synth corpus`` with a seed of its own, set by
``quire synth text`` in C059 (URW's Century Schoolbook, fonts-urw-base35), the
family the recipe (configs/text-default.yaml) leaves out, and for comparison in
Nimbus Roman, a family it trained on; clean, scanned and photographed (every
page degraded), cut by ``quire cut``. Speed: lines per second of
``recognize predict`` at batch 16 on this CPU, greedy decoding included, the
median of three runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "text-default"
FONT_FOLDERS = [Path("/usr/share/fonts")]
UNSEEN, SEEN = "C059", "Nimbus Roman"
PAGES = 30
BATCH = 16
CONDITIONS = {"clean": (0.0, 0.0), "scan": (1.0, 0.0), "camera": (0.0, 1.0)}


def _lines(folder: Path, corpus: Path, fonts: list[Path], scan: float, camera: float) -> Path:
    from quire.config import CutConfig, SynthTextConfig, build_config
    from quire.cut import cut
    from quire.synth.text import synth_text

    flags = {"pages": PAGES, "seed": 9001, "fonts": fonts, "skip_fonts": []}
    flags |= {"scan_chance": scan, "camera_chance": camera}
    config = build_config(SynthTextConfig, REPO / "configs" / "text-default.yaml", flags)
    synth_text(folder, config, [corpus])
    cut(folder / "images", folder, CutConfig())
    return folder / "lists" / "lines-gt.txt"


def _scores(model, listing: Path) -> dict:
    from bench.reading import read_listed
    from quire.evaluate import error_rates

    pairs = read_listed(model, listing)
    rates = error_rates(pairs, "text")
    return {"lines": len(pairs), **{k: rates[k] for k in ("cer", "wer", "ler")}}


def run() -> dict:
    from bench.reading import snippets_per_second
    from quire.config import SynthCorpusConfig
    from quire.lists import read_list
    from quire.recognize.predict import RecognizerModel
    from quire.synth.corpus import write_corpus
    from quire.synth.text import find_fonts

    families = {f.name: f for f in find_fonts(FONT_FOLDERS)}
    if not MODEL.exists() or UNSEEN not in families or SEEN not in families:
        return {"skipped": f"needs {MODEL} and the fonts {UNSEEN}, {SEEN} (fonts-urw-base35)"}
    model = RecognizerModel.load(MODEL, "cpu")
    figures: dict = {"model": "models/text-default", "pages_per_condition": PAGES}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        write_corpus(corpus, SynthCorpusConfig(words=20000, seed=9001))
        for font in (UNSEEN, SEEN):
            faces = [face.path for face in families[font].faces.values()]
            for condition, (scan, camera) in CONDITIONS.items():
                folder = Path(tmp) / f"{font}-{condition}"
                listing = _lines(folder, corpus, faces, scan, camera)
                figures.setdefault(font, {})[condition] = _scores(model, listing)
        entries, _ = read_list(listing)
        sample = [e.path for e in entries[:64]]
        figures["lines_per_second"] = snippets_per_second(model, sample, BATCH)
    figures["model_validation"] = model.meta.get("metrics", {})
    return figures
