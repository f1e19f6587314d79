"""Loghi-HTR models: built from Loghi's VGSL specs (vgslify), converted, compared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("keras", reason="the loghi extra (TensorFlow) is not installed")
pytest.importorskip("vgslify", reason="the loghi extra (vgslify) is not installed")

from quire.recognize.loghi import (
    keras_line,
    keras_model,
    write_loghi_model,
)
from tests.conftest import quire

CHARACTERS = "abcdefghij ␃␅"
SPECS = {
    "recommended": "recommended",
    "model9": "model9",
    # forward LSTM and GRU, a dense layer between, 'valid' pooling, Loghi's width-first order
    "mixed": "None,64,None,1 Cr3,3,8 Bn Mp2,2,2,2 Ct3,5,12 Mp2,2 Rc Gfs24 Fr16 Lfs20 D20 O1s92",
}


def keras_reading(model_dir: Path, gray: np.ndarray) -> tuple[np.ndarray, str]:
    """The Keras model's probabilities and its greedy reading as Loghi decodes it
    (the last unit is the blank, unit u stands for token u + 1)."""
    tokens = json.loads((model_dir / "tokenizer.json").read_text())
    line = keras_line(1 - gray.astype(np.float32) / 255)[None]
    probabilities = np.asarray(keras_model(model_dir)(line, training=False))[0]
    best = probabilities.argmax(-1)
    blank = probabilities.shape[-1] - 1
    units = [u for i, u in enumerate(best) if u != blank and (i == 0 or u != best[i - 1])]
    return probabilities, "".join(tokens[str(u + 1)] for u in units)


@pytest.mark.slow
@pytest.mark.parametrize("spec", list(SPECS))
def test_loghi_models_convert_to_the_same_outputs_and_readings(tmp_path, spec):
    import torch

    from quire.recognize.predict import RecognizerModel

    loghi = write_loghi_model(SPECS[spec], CHARACTERS, tmp_path / "loghi", seed=3)
    quire("recognize", "import-loghi", loghi, tmp_path / "converted")
    model = RecognizerModel.load(tmp_path / "converted", "cpu")
    meta = model.meta
    assert meta["training"]["imported"]["largest_difference"] < 1e-5
    assert meta["input"]["height"] == 64 and meta["input"]["channels"] == 1
    assert model.vocabulary.tokens == ("\ufffd", *CHARACTERS)

    gray = np.random.default_rng(5).integers(0, 256, (64, 240)).astype(np.uint8)
    expected, text = keras_reading(loghi, gray)
    ink = torch.from_numpy(1 - gray.astype(np.float32) / 255)[None, None]
    with torch.inference_mode():
        logits, _ = model.net(ink, torch.tensor([gray.shape[1]]))
    order = [expected.shape[-1] - 1, *range(expected.shape[-1] - 1)]
    got = logits[:, 0].softmax(-1).numpy()
    assert np.abs(got - expected[:, order]).max() < 1e-5

    (tmp_path / "lines").mkdir()
    Image.fromarray(gray).save(tmp_path / "lines" / "line.png")
    quire(
        "recognize",
        "predict",
        tmp_path / "lines",
        "-m",
        tmp_path / "converted",
        "-o",
        tmp_path / "results.tsv",
    )
    row = (tmp_path / "results.tsv").read_text(encoding="utf-8").rstrip("\n").split("\t")
    assert row[2] == text.replace("[UNK]", "\ufffd")


def test_charlist_models_and_unconvertible_layers(tmp_path):
    loghi = write_loghi_model("None,64,None,1 Cr3,3,4 Mp2,2,2,2 Rc Bl8 O1s9", "xyz", tmp_path / "m")
    (loghi / "tokenizer.json").unlink()
    (loghi / "charlist.txt").write_text("xyz", encoding="utf-8")
    quire("recognize", "import-loghi", loghi, tmp_path / "converted")
    meta = json.loads((tmp_path / "converted" / "model.json").read_text())
    assert meta["vocabulary"]["tokens"] == ["\ufffd", "x", "y", "z"]

    lines = tmp_path / "lines"  # a converted model fine-tunes as any quire model
    lines.mkdir()
    for n, text in enumerate(["xyz", "zyx", "xy", "yz"]):
        Image.new("L", (90, 64), 255).save(lines / f"{n}.png")
        with (lines / "list.txt").open("a") as listing:
            listing.write(f"{lines / f'{n}.png'}\t{text}\n")
    quire(
        *("recognize", "train", lines / "list.txt", "-o", tmp_path / "tuned"),
        *("--base-model", tmp_path / "converted", "--epochs", "1", "--batch-size", "2"),
        *("--no-augment", "--normalization", "none", "--val-fraction", "0.25"),
    )
    tuned = json.loads((tmp_path / "tuned" / "model.json").read_text())
    assert tuned["architecture"]["spec"] == meta["architecture"]["spec"]

    pooled = write_loghi_model(
        "None,64,None,1 Cr3,3,4 Ap2,2,2,2 Rc Bl8 O1s9", "xyz", tmp_path / "a"
    )
    output = quire("recognize", "import-loghi", pooled, tmp_path / "not-written", code=2)
    lines = [line for line in output.splitlines() if "cannot convert" in line]
    assert len(lines) == 1 and "AveragePooling2D" in lines[0], output
    assert not (tmp_path / "not-written").exists()

    (loghi / "charlist.txt").write_text("xy", encoding="utf-8")
    output = quire("recognize", "import-loghi", loghi, tmp_path / "short", code=2)
    assert "the output layer has 5 units; the tokenizer needs 4" in output
    (loghi / "charlist.txt").unlink()
    output = quire("recognize", "import-loghi", loghi, tmp_path / "none", code=2)
    assert "neither tokenizer.json nor charlist.txt is there" in output
    assert not any(tmp_path.glob("short*")) and not (tmp_path / "none").exists()
