"""Lines per second of a Loghi-HTR model under TensorFlow and, converted, under quire.

Loghi's recommended spec (5 × BiLSTM 512) with random weights, built by vgslify
(quire.recognize.loghi.write_loghi_model) and converted by import-loghi. Both read
the same 48 synthetic text lines, 64 px high and 300-900 px wide, in batches of 16
lines of similar width, on the CPU: TensorFlow runs the Keras model on Loghi's input
(padded batches, width first; ``predict_on_batch``, as Loghi predicts), quire runs
``recognize`` (greedy decoding included). Medians of three runs; the ratio is
quire's speed over TensorFlow's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

LINES, BATCH = 48, 16
CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:'-"


def _lines() -> list:
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(7)
    lines = []
    for _ in range(LINES):
        width = int(rng.integers(300, 900))
        image = Image.new("L", (width, 64), 255)
        text = "".join(rng.choice(list(CHARACTERS), width // 12))
        ImageDraw.Draw(image).text((8, 20), text, fill=0, font_size=24)
        lines.append(np.asarray(image))
    return lines


def run() -> dict:
    import numpy as np
    import torch

    from bench.timing import median_seconds
    from quire.config import RecognizePredictConfig
    from quire.recognize.data import width_batches
    from quire.recognize.loghi import keras_line, keras_model, write_loghi_model
    from quire.recognize.predict import RecognizerModel, recognize

    lines = _lines()
    with tempfile.TemporaryDirectory() as tmp:
        loghi = write_loghi_model("recommended", CHARACTERS, Path(tmp) / "loghi")
        from quire.recognize.loghi import import_loghi

        import_loghi(loghi, Path(tmp) / "quire")
        keras = keras_model(loghi)
        model = RecognizerModel.load(Path(tmp) / "quire", "cpu")
    batches = list(width_batches([line.shape[1] for line in lines], BATCH))

    def tensorflow() -> None:
        for batch in batches:
            inputs = [keras_line(1 - lines[i] / 255.0) for i in batch]
            widest = max(line.shape[0] for line in inputs)
            x = np.full((len(batch), widest, 64, 1), -10.0, np.float32)  # Loghi pads with -10
            for row, line in enumerate(inputs):
                x[row, : line.shape[0]] = line
            keras.predict_on_batch(x)

    config = RecognizePredictConfig(batch_size=BATCH)
    figures: dict = {"lines": LINES, "batch_size": BATCH, "spec": "recommended", "device": "cpu"}
    figures["tensorflow_lines_per_second"] = round(LINES / median_seconds(tensorflow, 3), 2)
    figures["quire_lines_per_second"] = round(
        LINES / median_seconds(lambda: recognize(model, lines, config), 3), 2
    )
    figures["ratio_quire_over_tensorflow"] = round(
        figures["quire_lines_per_second"] / figures["tensorflow_lines_per_second"], 2
    )
    figures["threads"] = torch.get_num_threads()
    return figures
