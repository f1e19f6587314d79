"""Layout: Pixel.js data, real (tiny) training, tiled prediction, extraction, evaluation."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from quire.cli import cli
from quire.layers import read_layer
from quire.pagexml import PageDocument
from quire.pagexml.document import parse_points

TINY = [
    "--depth",
    "2",
    "--width",
    "4",
    "--patch",
    "96",
    "--batch-size",
    "4",
    "--validate-every",
    "20",
    "--val-fraction",
    "0.25",
]


def invoke(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


def png(array: np.ndarray, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def pixeljs_zip(
    path: Path, image: np.ndarray, layers: list[np.ndarray], selection: np.ndarray | None = None
) -> Path:
    """A zip as Pixel.js exports it: RGBA layers, alpha 255 where labelled."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Image.png", png(image, "L"))
        for index, mask in enumerate(layers):
            rgba = np.zeros((*mask.shape, 4), np.uint8)
            rgba[mask] = (200, 30, 30, 255)
            name = f"rgba PNG - Layer {index}{' (Background)' if index == 0 else ''}.png"
            archive.writestr(name, png(rgba, "RGBA"))
        if selection is not None:
            rgba = np.zeros((*selection.shape, 4), np.uint8)
            rgba[selection] = 255
            archive.writestr("rgba PNG - Selected regions.png", png(rgba, "RGBA"))
    return path


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("layout-data")
    invoke(
        "synth",
        "music",
        str(out),
        "--pages",
        "4",
        "--seed",
        "5",
        "--dpi",
        "150",
        "--max-systems",
        "3",
        "--title-chance",
        "1",
        "--lyrics-chance",
        "1",
    )
    return out


@pytest.fixture(scope="module")
def model(pages, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("layout-model") / "model"
    invoke("layout", "train", str(pages), "-o", str(folder), "--steps", "150", *TINY)
    return folder


def test_model_directory_describes_itself(model):
    meta = json.loads((model / "model.json").read_text())
    assert meta["kind"] == "layout"
    assert meta["layers"] == ["background", "staff", "symbols", "text"]
    assert meta["architecture"] == {
        "name": "unet",
        "depth": 2,
        "width": 4,
        "norm": "batch",
        "scale": 0.5,
        "refine": 8,
    }
    assert set(meta["metrics"]["validation"]) >= {"precision", "recall", "f1", "step"}
    assert meta["training"]["train_pages"] == 3 and meta["training"]["val_pages"] == 1
    assert (model / "model.safetensors").stat().st_size < 100_000


def test_training_learns_and_prediction_writes_layers(pages, model, tmp_path):
    work = tmp_path / "work"
    invoke(
        "layout",
        "predict",
        str(pages / "images"),
        str(work),
        "-m",
        str(model),
        "--tile",
        "256",
        "--overlap",
        "32",
        "--pixeljs",
    )
    stem = sorted(p.stem for p in (pages / "images").iterdir())[0]
    folder = work / "layers" / stem
    assert sorted(p.name for p in folder.iterdir()) == [
        "background.png",
        "labels.png",
        "staff.png",
        "staff.png".replace("staff", "symbols"),
        "text.png",
    ]
    labels = np.asarray(Image.open(folder / "labels.png"))
    assert labels.shape == read_layer(pages / "layers" / stem / "staff.png").shape
    assert (read_layer(folder / "symbols.png") == (labels == 2)).all()
    assert (work / "pixeljs" / stem / "rgba PNG - Layer 0 (Background).png").exists()
    report = json.loads(
        invoke(
            "-q",
            "evaluate",
            "layers",
            str(work / "layers"),
            str(pages / "layers"),
            "-o",
            str(tmp_path / "scores"),
        )
    )
    assert report["pages"] == 4
    # 150 steps of a 4-channel net separate ink from paper and find symbols
    assert report["layers"]["background"]["f1"] > 0.95
    assert report["layers"]["symbols"]["f1"] > 0.3
    assert (tmp_path / "scores.md").read_text().startswith("# Layer scores")


def test_layer_scores_pool_the_pages_and_keep_each_page(tmp_path):
    from quire.layers import save_layer

    truth = np.zeros((10, 10), bool)
    truth[2:4] = True  # 20 staff pixels on each page
    half = truth.copy()
    half[3] = False
    for stem, predicted in (("a", truth), ("b", half)):
        for folder, mask in (("pred", predicted), ("true", truth)):
            save_layer(tmp_path / folder / stem / "staff.png", mask, (214, 39, 40))
    report = json.loads(
        invoke(
            "-q",
            "evaluate",
            "layers",
            str(tmp_path / "pred"),
            str(tmp_path / "true"),
            "-o",
            str(tmp_path / "scores"),
        )
    )
    assert report["per_page"]["a"]["staff"]["f1"] == 1.0
    assert report["per_page"]["b"]["staff"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": 2 / 3,
        "true_pixels": 20,
    }
    assert report["layers"]["staff"]["recall"] == 30 / 40
    assert "| b | 0.6667 |" in (tmp_path / "scores.md").read_text()


def test_training_resumes_from_its_checkpoint(pages, tmp_path):
    import torch

    folder = tmp_path / "m"
    invoke("layout", "train", str(pages), "-o", str(folder), "--steps", "20", *TINY)
    checkpoint = folder.with_name("m.checkpoint.pt")
    assert torch.load(checkpoint, weights_only=True)["state"]["step"] == 20
    output = invoke(
        "layout", "train", str(pages), "-o", str(folder), "--steps", "40", *TINY, "--resume"
    )
    assert "resuming after step 20" in output
    assert torch.load(checkpoint, weights_only=True)["state"]["step"] == 40
    assert json.loads((folder / "model.json").read_text())["metrics"]["validation"]["step"] in (
        20,
        40,
    )
    missing = invoke("layout", "train", str(pages), "-o", str(tmp_path / "x"), "--resume", code=2)
    assert "no checkpoint to resume from" in missing


@pytest.mark.skipif(not shutil.which("torchrun"), reason="torchrun not installed")
def test_ddp_training_with_two_gloo_processes(pages, tmp_path):
    import torch

    folder = tmp_path / "ddp"
    command = [
        *("torchrun", "--standalone", "--nproc_per_node=2", "--no-python", "quire"),
        *("layout", "train", str(pages), "-o", str(folder), "--steps", "20", *TINY),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    invoke("layout", "predict", str(pages / "images"), str(tmp_path / "work"), "-m", str(folder))
    assert (
        torch.load(folder.with_name("ddp.checkpoint.pt"), weights_only=True)["state"]["step"] == 20
    )


def test_tiles_blend_to_the_whole_page_result(pages, model):
    from quire.layout.predict import load_layout_model, predict_probabilities

    gray = np.asarray(Image.open(next((pages / "images").iterdir())))
    net = load_layout_model(model, "cpu")
    whole = predict_probabilities(net, gray, tile=4096, overlap=0)
    tiled = predict_probabilities(net, gray, tile=200, overlap=48, batch_size=3)
    assert (whole.argmax(0) == tiled.argmax(0)).mean() > 0.995


def extract_true_layers(data: Path, work: Path) -> None:
    """quire extract on the true layers of a synth folder."""
    (work / "layers").mkdir(parents=True)
    for folder in (data / "layers").iterdir():
        (work / "layers" / folder.name).symlink_to(folder)
    invoke("extract", str(data / "images"), str(work))


def test_extract_from_true_layers_finds_every_staff(pages, tmp_path, validate):
    work = tmp_path / "work"
    extract_true_layers(pages, work)
    for path in (work / "page").glob("*.xml"):
        assert not validate(path)
        doc = PageDocument.read(path)
        kinds = {(r.custom_get("structure") or {}).get("type") for r in doc.regions()}
        assert "music" in kinds and "text" in kinds  # every page has a title
        assert doc.reading_order() == sorted(
            doc.reading_order(), key=lambda rid: min(y for _, y in doc.find(rid).coords)
        )
    report = json.loads(invoke("-q", "evaluate", "staves", str(work / "page"), str(pages / "page")))
    assert report["recall"] == 1.0 and report["precision"] == 1.0


@pytest.mark.parametrize("dpi", [150, 400])
def test_extract_keeps_text_lines_whole_at_any_resolution(tmp_path, dpi):
    texts = tmp_path / "words.txt"
    texts.write_text("Lorem ipsum dolor sit amet, consectetur adipiscing elit; sed do eiusmod.\n")
    out = tmp_path / "text"
    invoke(
        "synth", "text", str(out), "--texts", str(texts), "--pages", "2", "--dpi", str(dpi),
        "--words-min", "4", "--lines-min", "3", "--underline-chance", "0.3", "--seed", "3",
    )  # fmt: skip
    work = tmp_path / "work"
    extract_true_layers(out, work)
    for truth in (out / "page").glob("*.xml"):
        found = list(PageDocument.read(work / "page" / truth.name).text_lines())
        expected = list(PageDocument.read(truth).text_lines())
        assert len(found) == len(expected), f"{truth.name}: {len(found)} lines, not {len(expected)}"


def _words(mask: np.ndarray, gray: np.ndarray, x: int, y: int, gaps: list[int]) -> None:
    """Letters (10 × 20 px blocks) in words of three, the words ``gaps`` apart."""
    for gap in [0, *gaps]:
        x += gap
        for _ in range(3):
            mask[y : y + 20, x : x + 10] = True
            gray[y : y + 20, x : x + 10] = 40
            x += 13


def test_extract_keeps_justified_lines_whole_and_columns_and_borders_apart():
    from quire.extract import text_lines

    rng = np.random.default_rng(4)
    mask = np.zeros((700, 1250), bool)
    gray = np.full(mask.shape, 235, np.uint8)
    gray[:, 1050:] = 50  # a dark scan border
    for row in range(12):
        y = 60 + 40 * row
        for left in (40, 540):  # two columns, a gutter at least 70 px wide between them
            gaps = [int(g) for g in rng.integers(12, 30, 5)]  # justified word spaces
            if row == 5:
                gaps[2] = 90  # a word the layer missed
            _words(mask, gray, left, y, gaps)
        _words(mask, gray, 1080, y, [])  # specks the layer took for text on the border
    mask[180:221, 45:47] = True  # a descender touching the line below
    lines = text_lines(mask, 8, 0.5, gray=gray)
    assert len(lines) == 24  # every printed line whole and apart, the columns apart, no border
    for polygon, baseline in lines:
        xs, ys = zip(*polygon, strict=True)
        assert max(xs) < 1050 and (max(xs) < 470 or min(xs) > 530)
        assert min(xs) in range(30, 41) or min(xs) in range(530, 541)  # from the first word
        assert max(xs) - min(xs) > 200 and max(ys) - min(ys) < 45  # to the last, one line high
        assert {y for _, y in baseline} == {baseline[0][1]}
    kept = text_lines(mask, 8, 0.5)  # without the image, the border's specks stay
    assert sum(max(x for x, _ in polygon) > 1050 for polygon, _ in kept) == 12


def test_the_lines_of_a_real_fraktur_page_are_found_whole_and_inside_its_text(
    shared_data, tmp_path
):
    """The shipped layout model and extract on a 1784 print photographed with its dark
    surround and the edges of the book's other leaves: printed lines found whole,
    nothing outside the page's text."""
    images, truth = tmp_path / "images", tmp_path / "truth"
    images.mkdir(), truth.mkdir()
    (images / "INPUT_0017.tif").symlink_to(shared_data / "real-text" / "INPUT_0017.tif")
    (truth / "INPUT_0017.xml").symlink_to(shared_data / "real-text" / "PAGE_0017_PAGE.xml")
    work = tmp_path / "work"
    invoke("layout", "predict", str(images), str(work), "-m", "models/layout-default")
    invoke("extract", str(images), str(work))
    report = json.loads(invoke("-q", "evaluate", "pages", str(work / "page"), str(truth)))
    found = report["text_lines"]
    assert found["f1"] >= 0.9 and found["precision"] >= 0.95, found
    text = PageDocument.read(truth / "INPUT_0017.xml").root.xpath("//*[local-name()='Border']")
    corners = np.array(parse_points(text[0][0].get("points")))  # the page's text, drawn
    (x0, y0), (x1, y1) = corners.min(0) - 20, corners.max(0) + 20  # polygons hold some paper
    for line in PageDocument.read(work / "page" / "INPUT_0017.xml").text_lines():
        xs, ys = zip(*line.coords, strict=True)
        assert x0 <= min(xs) and max(xs) <= x1 and y0 <= min(ys) and max(ys) <= y1, line.id


def test_extract_follows_skewed_and_broken_staves(tmp_path):
    from quire.extract import find_tracks, group_staves

    staff = np.zeros((400, 1200), bool)
    for top in (60, 220):
        for k in range(5):
            for x in range(40, 1160):
                if 500 <= x < 540 and k == 2:
                    continue  # a gap in the middle line
                y = top + 12 * k + 0.05 * x + 8 * np.sin(x / 300)  # skew and curvature
                staff[int(y) : int(y) + 2, x] = True
    staves = group_staves(find_tracks(staff, 30, 100), 100, 120)
    assert len(staves) == 2
    assert all(abs(s.space - 12) < 1.5 for s in staves)
    assert staves[0].lines[2].y_at(1000) == pytest.approx(
        60 + 24 + 50 + 8 * np.sin(1000 / 300), abs=2
    )


def test_pixeljs_zips_train_and_fine_tune_with_an_added_layer(tmp_path, model):
    rng = np.random.default_rng(0)
    image = np.full((160, 200), 230, np.uint8)
    ink = np.zeros(image.shape, bool)
    ink[40:44, 10:190] = ink[80:84, 10:190] = True
    image[ink] = 20
    blobs = np.zeros(image.shape, bool)
    for y, x in rng.integers(20, 140, (6, 2)):
        blobs[y : y + 6, x : x + 8] = True
    image[blobs] = 40
    selection = np.zeros(image.shape, bool)
    selection[:, :150] = True
    layers = [~ink & ~blobs, ink, blobs, np.zeros(image.shape, bool), np.zeros(image.shape, bool)]
    zips = [pixeljs_zip(tmp_path / f"page{i}.zip", image, layers, selection) for i in range(2)]
    out = tmp_path / "finetuned"
    invoke(
        "layout",
        "train",
        *map(str, zips),
        "-o",
        str(out),
        "--base-model",
        str(model),
        "--steps",
        "20",
        *TINY,
        "--layers",
        "background",
        "--layers",
        "staff",
        "--layers",
        "symbols",
        "--layers",
        "text",
        "--layers",
        "lyrics",
    )
    meta = json.loads((out / "model.json").read_text())
    assert meta["layers"][-1] == "lyrics" and meta["training"]["base_layers"] == meta["layers"][:4]
    base = json.loads((model / "model.json").read_text())
    assert meta["training"]["base_training"] == base["training"]


def test_an_added_layer_leaves_the_old_layers_as_they_were(tmp_path):
    """A base model widened for a new layer starts from its predictions of its own layers."""
    import torch

    from quire.layout.model import LayoutNet
    from quire.layout.train import _initial_state
    from quire.models import save_model

    torch.manual_seed(0)
    layers = ["background", "staff", "symbols", "text"]
    arch = {"name": "unet", "depth": 2, "width": 4, "norm": "batch", "scale": 0.5, "refine": 8}
    base = LayoutNet(4, 2, 4, "batch", 0.5).eval()
    meta = {"kind": "layout", "layers": layers, "architecture": arch}
    save_model(tmp_path / "base", base.state_dict(), meta)
    wide = LayoutNet(5, 2, 4, "batch", 0.5)
    _initial_state(wide, tmp_path / "base", [*layers, "lyrics"])
    page = torch.rand(1, 1, 64, 96)
    with torch.inference_mode():
        assert torch.allclose(wide.eval()(page)[:, :4], base(page), atol=1e-5)


def test_augmented_labels_follow_the_lines_they_label():
    import albumentations as A
    import cv2

    from quire.layout.data import IGNORE
    from quire.layout.train import augmented

    labels = np.zeros((96, 96), np.uint8)
    labels[::12] = 1  # one-pixel lines
    labels[:, :8] = IGNORE
    image = np.where(labels == 1, 0, 255).astype(np.uint8)
    turn = A.Compose(
        [A.Affine(rotate=(3, 7), scale=(0.8, 1.2), fill=255, mask_interpolation=cv2.INTER_LINEAR)],
        seed=1,
    )
    for _ in range(4):
        moved, out = augmented(turn, image, labels, 2)
        assert set(np.unique(out)) == {0, 1, IGNORE}
        labelled = out != IGNORE
        assert ((out == 1) == (moved < 128))[labelled].mean() > 0.995


def test_without_affine_augmentation_patches_keep_their_labels():
    from quire.layout.data import IGNORE
    from quire.layout.train import _augmenter, augmented

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, (64, 64)).astype(np.uint8)
    labels[:, :8] = IGNORE
    image = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    augment = _augmenter(seed=2, affine=0.0)
    changed = 0
    for _ in range(8):
        moved, out = augmented(augment, image, labels, 4)
        assert (out == labels).all()
        changed += int((moved != image).any())
    assert changed  # contrast, blur and noise still apply


@pytest.mark.parametrize("problem", ["corrupt", "sizes", "empty", "large", "layers"])
def test_bad_training_input_is_one_clear_line(tmp_path, pages, problem):
    image = np.full((64, 64), 200, np.uint8)
    good = [np.ones((64, 64), bool)] + [np.zeros((64, 64), bool)] * 3
    bad = tmp_path / f"{problem}.zip"
    expected = {
        "corrupt": "not a readable zip",
        "sizes": "layer 1 is 32x32, the image 64x64",
        "empty": "no labelled pixel",
        "large": "over the limit of 1000 pixels",
        "layers": "has 2 layers, the configuration names 4",
    }[problem]
    if problem == "corrupt":
        bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    elif problem == "sizes":
        pixeljs_zip(bad, image, [good[0], np.zeros((32, 32), bool), *good[2:]])
    elif problem == "empty":
        pixeljs_zip(bad, image, good, np.zeros((64, 64), bool))
    elif problem == "large":
        pixeljs_zip(bad, np.full((64, 64), 9, np.uint8), good)
    else:
        pixeljs_zip(bad, image, good[:2])
    extra = ["--max-pixels", "1000"] if problem == "large" else []
    result = CliRunner().invoke(
        cli,
        [
            "layout",
            "train",
            str(bad),
            str(pages),
            "-o",
            str(tmp_path / "m"),
            "--steps",
            "2",
            *TINY,
            *extra,
        ],
    )
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert expected in errors[0] and str(bad) in errors[0], result.output
    if problem == "large":  # the limit refuses every page: nothing to train on
        assert result.exit_code == 2 and errors[-1] == "error: no usable training page"
    else:  # the bad zip is left out, the rest trains
        assert len(errors) == 1 and result.exit_code == 1
        assert (tmp_path / "m" / "model.json").exists()


def test_a_zip_bomb_is_refused_within_bounded_memory(tmp_path):
    """A 1 MiB Pixel.js zip whose Image.png inflates to 1 GiB: refused by its declared
    size, in a process that never holds it (peak memory well under 500 MB)."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("Image.png", "w", force_zip64=True) as member:
            block = bytes(1 << 24)
            for _ in range(64):
                member.write(block)
        archive.writestr("rgba PNG - Layer 0 (Background).png", b"")
    assert bomb.stat().st_size < 8 << 20
    measure = (
        "import resource, subprocess, sys; "
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "print(done.stderr)"
    )
    quire = [str(Path(sys.executable).parent / "quire"), "layout", "train", str(bomb), "-o"]
    result = subprocess.run(
        [sys.executable, "-c", measure, *quire, str(tmp_path / "model")],
        capture_output=True,
        text=True,
        check=True,
    )
    status, peak_kib = result.stdout.split("\n")[0].split()
    assert status == "2" and "bomb.zip:Image.png: inflates to 1073741824 bytes" in result.stdout
    assert int(peak_kib) < 500 * 1024
