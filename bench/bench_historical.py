"""Historical prints: text lines found and pages read by quire, Tesseract and kraken's
segmenter, on the same pages, scored by ``quire evaluate pages``.

Pages:

- the real 1784 Fraktur page of ``../shared/data/real-text`` (when it is there), as
  published, against its PAGE ground truth;
- held-out generated pages: prose in the spelling of old prints (``synth corpus
  --spelling historical``, a seed of its own, no quotation marks, which Gamaliel
  lacks) set in Gamaliel, the family the text-historical recipe leaves out,
  degraded as the recipe degrades.

Each tool reads the page images: quire with ``scripts/inference-pipeline.sh`` and the
shipped ``models/text-historical``; Tesseract (Debian's ``tesseract-ocr`` with its
``Fraktur`` model, when installed) through hOCR, its lines' baselines and words
made PageXML; kraken's baseline segmenter (``kraken -i IMAGE OUT --alto segment
-bl``, from the executable named by ``QUIRE_KRAKEN``; it has no recognition model
offline, so lines only). Figures: baseline precision / recall / F1 (10 px), page
CER, and seconds per page (median of three runs on the real page, the whole set
once on generated pages); for quire also the CER of the recognizer alone on the
true lines of the generated pages. A tool that is absent is named, not run.

A few lines of one's own: the real page's true lines are cut (``quire cut`` along
their PAGE polygons), 5, 10 and 20 of them drawn at random (each set holding the
smaller ones) fine-tune the shipped reader (``quire recognize train --base-model``,
the settings of ``FINE_TUNE``), and the lines none of the sets holds are read by
each model: their CER before and after, and on the training lines.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "text-historical"
REAL = REPO.parent / "shared" / "data" / "real-text"
HELD_OUT_FONT = Path("/usr/share/fonts/truetype/gamaliel")
PAGES = 10
SEED = 9101  # not a seed of the recipes (configs/*.yaml)
FINE_TUNE = {"epochs": 8, "epoch_size": 160, "batch_size": 8, "learning_rate": 0.0005}
LINE_COUNTS = (5, 10, 20)
_BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
_BASELINE = re.compile(r"baseline (-?[\d.]+) (-?[\d.]+)")


def _quire(images: Path, out: Path) -> Path:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [str(REPO / "scripts" / "inference-pipeline.sh"), str(images), str(out)]
    command += ["--text-model", str(MODEL), "--runner", "local", "--force"]
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    if run.returncode not in (0, 1):
        raise RuntimeError(f"inference pipeline failed: {run.stderr[-2000:]}")
    return out / "page"


def hocr_page(hocr: Path, image: Path, output: Path) -> None:
    """A PageXML page of Tesseract's hOCR lines: box, baseline and words' text."""
    from lxml import html
    from PIL import Image

    from quire.pagexml import PageDocument

    with Image.open(image) as opened:
        width, height = opened.size
    doc = PageDocument.new(image.name, width, height)
    tree = html.parse(str(hocr))
    lines = tree.xpath("//*[contains(@class, 'ocr_line') or contains(@class, 'ocr_caption')]")
    page = [(0, 0), (width - 1, 0), (width - 1, height - 1), (0, height - 1)]
    region = doc.page.add_region("TextRegion", "tesseract", page)
    for n, line in enumerate(lines):
        title = line.get("title", "")
        x0, y0, x1, y1 = map(int, _BBOX.search(title).groups())
        found = _BASELINE.search(title)
        slope, offset = (float(v) for v in found.groups()) if found else (0.0, 0.0)
        base = [(x, round(y1 + offset + slope * (x - x0))) for x in (x0, x1)]
        words = [w.text_content() for w in line.xpath(".//*[contains(@class, 'ocrx_word')]")]
        box = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        region.add_text_line(f"line_{n}", box, base).set_text(" ".join(w for w in words if w))
    doc.write(output / f"{image.stem}.xml")


def _tesseract(images: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for image in sorted(images.iterdir()):
        base = out / image.stem
        subprocess.run(
            ["tesseract", str(image), str(base), "-l", "Fraktur", "hocr"],
            capture_output=True,
            check=True,
        )
        hocr_page(base.with_suffix(".hocr"), image, out)
    return out


def _kraken(images: Path, out: Path, kraken: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for image in sorted(images.iterdir()):
        xml = out / f"{image.stem}.xml"
        command = [kraken, "-i", str(image), str(xml), "--pagexml", "segment", "-bl"]
        subprocess.run(command, capture_output=True, check=True)
    return out


def _scores(pages: Path, truth: Path) -> dict:
    from quire.evaluate import text_line_scores
    from quire.pagexml import PageDocument

    read, true = ({p.stem: PageDocument.read(p) for p in d.glob("*.xml")} for d in (pages, truth))
    found = text_line_scores(read, true, 10.0)
    return {k: found[k] for k in ("precision", "recall", "f1", "page_cer", "predicted_lines")}


def _tools() -> dict:
    tools = {"quire": _quire}
    if shutil.which("tesseract"):
        tools["tesseract"] = _tesseract
    kraken = os.environ.get("QUIRE_KRAKEN")
    if kraken and Path(kraken).exists():
        tools["kraken"] = lambda images, out: _kraken(images, out, kraken)
    return tools


def _generated(folder: Path) -> tuple[Path, Path]:
    """Held-out generated pages (images, truth) and the CER of the recognizer on their
    true lines."""
    from quire.config import SynthCorpusConfig, SynthTextConfig, build_config
    from quire.synth.corpus import write_corpus
    from quire.synth.text import synth_text

    recipe = REPO / "configs" / "text-historical.yaml"
    corpus = folder / "corpus.txt"
    # no quotes: Gamaliel has no glyph for „ “ « »
    flags = {"seed": SEED, "quote_chance": 0.0}
    write_corpus(corpus, build_config(SynthCorpusConfig, recipe, flags))
    flags = {"pages": PAGES, "seed": SEED, "fonts": [HELD_OUT_FONT], "skip_fonts": []}
    synth_text(folder / "text", build_config(SynthTextConfig, recipe, flags), [corpus])
    return folder / "text" / "images", folder / "text" / "page"


def _line_cer(text: Path) -> float:
    from bench.reading import read_listed
    from quire.config import CutConfig
    from quire.cut import cut
    from quire.evaluate import error_rates
    from quire.recognize.predict import RecognizerModel

    cut(text / "images", text, CutConfig())
    pairs = read_listed(RecognizerModel.load(MODEL, "cpu"), text / "lists" / "lines-gt.txt")
    return error_rates(pairs, "text")["cer"]


def few_lines(folder: Path) -> dict:
    """CER on the real page's other lines after fine-tuning on 5, 10 and 20 of them."""
    import random

    from bench.reading import read_listed
    from quire.config import CutConfig, RecognizeTrainConfig
    from quire.cut import cut
    from quire.evaluate import error_rates
    from quire.lists import read_list
    from quire.recognize.predict import RecognizerModel
    from quire.recognize.train import train_recognizer

    (folder / "page").mkdir(parents=True)
    shutil.copy(REAL / "PAGE_0017_PAGE.xml", folder / "page" / "INPUT_0017.xml")
    cut(REAL, folder, CutConfig())
    listing = folder / "lists" / "lines-gt.txt"
    lines = [line for line in listing.read_text().splitlines() if line.split("\t")[-1].strip()]
    drawn = random.Random(1).sample(lines, max(LINE_COUNTS))
    test = folder / "lists" / "test.txt"
    test.write_text("".join(f"{line}\n" for line in lines if line not in drawn))

    def cer(model: Path, listing: Path) -> float:
        pairs = read_listed(RecognizerModel.load(model, "cpu"), listing)
        return error_rates(pairs, "text")["cer"]

    figures = {"test_lines": len(read_list(test)[0]), "shipped": cer(MODEL, test)}
    for count in LINE_COUNTS:
        train = folder / "lists" / f"train-{count}.txt"
        train.write_text("".join(f"{line}\n" for line in drawn[:count]))
        config = RecognizeTrainConfig(encoding="text", val_fraction=0, seed=1, **FINE_TUNE)
        model = folder / f"model-{count}"
        train_recognizer([train], model, config, base_model=MODEL)
        figures[f"lines_{count}"] = {"test": cer(model, test), "train": cer(model, train)}
    return figures


def run() -> dict:
    if not MODEL.exists():
        return {"skipped": f"needs {MODEL}"}
    tools = _tools()
    figures: dict = {"model": "models/text-historical", "tools": sorted(tools)}
    figures["absent"] = [t for t in ("tesseract", "kraken") if t not in tools]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sets = {}
        if HELD_OUT_FONT.is_dir():
            sets["generated"] = _generated(root / "generated")
            figures["generated_pages"] = PAGES
            figures["generated_line_cer_quire"] = _line_cer(root / "generated" / "text")
        else:
            figures["generated"] = {"skipped": f"needs {HELD_OUT_FONT} (fonts-gamaliel)"}
        if REAL.is_dir():
            figures["few_lines"] = few_lines(root / "few")
            images, truth = root / "real" / "images", root / "real" / "truth"
            images.mkdir(parents=True), truth.mkdir()
            (images / "INPUT_0017.tif").symlink_to(REAL / "INPUT_0017.tif")
            (truth / "INPUT_0017.xml").symlink_to(REAL / "PAGE_0017_PAGE.xml")
            sets["real"] = (images, truth)
        else:
            figures["real"] = {"skipped": f"needs {REAL}"}
        for name, (images, truth) in sets.items():
            count = len(list(images.iterdir()))
            repeats = 3 if name == "real" else 1
            figures[name] = {}
            for tool, read in tools.items():
                times = []
                try:
                    for k in range(repeats):
                        start = time.perf_counter()
                        pages = read(images, root / name / f"{tool}-{k}")
                        times.append((time.perf_counter() - start) / count)
                except subprocess.CalledProcessError as exc:
                    last = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
                    figures[name][tool] = {"failed": last[-1] if last else str(exc)}
                    continue
                scores = _scores(pages, truth)
                if tool == "kraken":
                    scores["page_cer"] = None  # lines only: no recognition model offline
                figures[name][tool] = {**scores, "seconds_per_page": statistics.median(times)}
    return figures
