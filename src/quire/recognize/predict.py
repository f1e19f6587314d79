"""quire recognize predict: snippets → ``results.tsv`` (``path<TAB>confidence<TAB>text``).

Snippets are read in chunks, sorted by width within a chunk and recognized in
batches of similar width and at most ``batch_columns`` columns, so little of a
batch is padding and memory stays bounded however long the list is and however
wide its lines. Results keep the order of the input.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from quire.batch import BatchResult, progress
from quire.config import RecognizePredictConfig
from quire.errors import InputError, QuireError
from quire.io import IMAGE_SUFFIXES, atomic_write_text
from quire.lists import read_list
from quire.recognize import decode
from quire.recognize.data import load_line, to_batch, width_batches
from quire.recognize.vocabulary import Vocabulary
from quire.spelling import MODERN, SMALL_E, UMLAUTS

if TYPE_CHECKING:
    import torch

    from quire.recognize.network import Recognizer

log = logging.getLogger("quire")
CHUNK_BATCHES = 4  # batches of snippets read at once: memory stays flat however many


@dataclass
class RecognizerModel:
    """A loaded recognizer: network (in eval mode), vocabulary, metadata, device."""

    net: Recognizer
    vocabulary: Vocabulary
    meta: dict
    device: torch.device

    @classmethod
    def load(cls, path: Path, device: str = "auto") -> RecognizerModel:
        from quire.models import load_model, load_weights, pick_device
        from quire.recognize.network import Recognizer

        state, meta = load_model(path, "recognizer")
        try:
            vocabulary = Vocabulary.from_json(meta["vocabulary"])
            net = Recognizer(meta["architecture"]["spec"], vocabulary.size)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(path / "model.json", f"describes no recognizer ({exc!r})") from None
        load_weights(net, state, path)
        target = pick_device(device)
        return cls(net.to(target).eval(), vocabulary, meta, target)


def log_probs(net: Recognizer, images: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
    """Per line, its frames' log-probabilities (T×classes) from one forward pass."""
    import torch

    x, widths = to_batch(images)
    with torch.inference_mode():
        logits, lengths = net(x.to(device), widths.to(device))
        logp = logits.float().log_softmax(-1).cpu().numpy()
    return [logp[: int(n), i] for i, n in enumerate(lengths)]


@dataclass
class Reading:
    """One recognized line: its text, confidence, and per symbol a confidence and the
    (start, end) share of the line's width it lies in."""

    text: str
    confidence: float
    symbol_confidences: list[float]
    symbol_spans: list[tuple[float, float]]


def recognize(
    model: RecognizerModel, images: list[np.ndarray], config: RecognizePredictConfig
) -> list[Reading]:
    """The reading of every line, in the given order."""
    widths = [image.shape[1] for image in images]
    out: list[Reading] = [Reading("", 0.0, [], [])] * len(images)
    for batch in width_batches(widths, config.batch_size, max_columns=config.batch_columns):
        for index, logp in zip(
            batch, log_probs(model.net, [images[i] for i in batch], model.device), strict=True
        ):
            if config.decoder == "beam":
                labels = decode.beam(logp, config.beam_width)
                path = decode.align(logp, labels)
            else:
                labels, path = decode.greedy_aligned(logp)
            confidence, per_symbol = decode.confidences(logp, labels, path)
            kept = _inner(model.vocabulary, labels)
            out[index] = Reading(
                model.vocabulary.text(labels[kept]),
                confidence,
                per_symbol[kept],
                decode.spans(path, len(labels))[kept],
            )
    return out


def modern_letters(reading: Reading) -> Reading:
    """``reading`` in modern letters: ſ as s, a small e over a, o, u as the umlaut (over
    another letter as an e after it), ligatures as their letters; each letter keeps its
    symbol's confidence and a share of its span."""
    if len(reading.text) != len(reading.symbol_spans):
        return reading  # symbols of several characters: not a text reading
    chars: list[str] = []
    confidences: list[float] = []
    spans: list[tuple[float, float]] = []
    symbols = zip(reading.text, reading.symbol_confidences, reading.symbol_spans, strict=True)
    for char, confidence, (start, end) in symbols:
        if char == SMALL_E and chars and chars[-1] in UMLAUTS:
            chars[-1] = UMLAUTS[chars[-1]]
            confidences[-1] = min(confidences[-1], confidence)
            spans[-1] = (spans[-1][0], end)
            continue
        letters = MODERN.get(char, char)
        step = (end - start) / len(letters)
        for k, letter in enumerate(letters):
            chars.append(letter)
            confidences.append(confidence)
            spans.append((start + k * step, start + (k + 1) * step))
    return Reading("".join(chars), reading.confidence, confidences, spans)


def _inner(vocabulary: Vocabulary, labels: list[int]) -> slice:
    """The symbols of a reading without the spaces it starts or ends with (text only):
    a line's ends are not text, and the frames read there depend on the padding of
    the lines it was batched with."""
    if vocabulary.encoding != "text":
        return slice(0, len(labels))
    words = [i for i, token in enumerate(vocabulary.decode(labels)) if not token.isspace()]
    return slice(words[0], words[-1] + 1) if words else slice(0, 0)


def snippet_paths(source: Path) -> tuple[list[Path], list[str]]:
    """The snippets of a list file (first column) or of a folder (searched recursively),
    and one message per unusable line of the list."""
    if source.is_dir():
        found = sorted(
            p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            raise InputError(source, "no images in this folder")
        return found, []
    entries, problems = read_list(source, need_text=False)
    for problem in problems:
        log.error("%s", problem)
    if not entries:
        raise InputError(source, "no snippets listed")
    return [entry.path for entry in entries], problems


def token_row(path: Path, reading: Reading) -> str:
    """A line of the tokens file: path, symbol confidences, symbol spans (start:end)."""
    confidences = " ".join(f"{c:.4f}" for c in reading.symbol_confidences)
    spans = " ".join(f"{a:.4f}:{b:.4f}" for a, b in reading.symbol_spans)
    return f"{path}\t{confidences}\t{spans}"


def predict_lines(
    source: Path, output: Path, model_dir: Path, config: RecognizePredictConfig
) -> BatchResult:
    """Recognize every snippet of ``source`` with the model in ``model_dir`` into ``output``."""
    model = RecognizerModel.load(model_dir, config.device)
    paths, problems = snippet_paths(source)
    height = model.net.height
    result = BatchResult(noun="line", problems=problems)
    rows, token_rows = [], []
    step = config.batch_size * CHUNK_BATCHES
    with progress("recognize", len(paths)) as advance:
        for start in range(0, len(paths), step):
            chunk, images = [], []
            for path in paths[start : start + step]:
                try:
                    images.append(_fit(load_line(path, height, config.max_width), model.net))
                    chunk.append(path)
                except InputError as exc:
                    result.failed.append((str(path), str(exc)))
                    log.error("%s", exc)
                    advance()
            if not images:
                continue
            for path, reading in zip(chunk, recognize(model, images, config), strict=True):
                if config.normalise:
                    reading = modern_letters(reading)
                rows.append(f"{path}\t{reading.confidence:.4f}\t{reading.text}")
                token_rows.append(token_row(path, reading))
                result.done += 1
                advance()
    if not rows:
        raise QuireError(f"{source}: no snippet could be recognized")
    atomic_write_text(output, "\n".join(rows) + "\n")
    if config.token_confidences:
        atomic_write_text(output.with_suffix(".tokens.tsv"), "\n".join(token_rows) + "\n")
    log.info("%d lines recognized into %s", result.done, output)
    return result


def _fit(image: np.ndarray, net: Recognizer) -> np.ndarray:
    """Pad a line too narrow for the network on the right (white)."""
    missing = net.min_width - image.shape[1]
    return np.pad(image, ((0, 0), (0, missing)), constant_values=255) if missing > 0 else image
