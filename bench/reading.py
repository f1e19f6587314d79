"""What a recognizer reads from the snippets of a ground-truth list, and how fast."""

from __future__ import annotations

from pathlib import Path


def _load(model, paths: list[Path]) -> list:
    from quire.config import RecognizePredictConfig
    from quire.recognize.data import load_line

    width = RecognizePredictConfig().max_width
    return [load_line(path, model.net.height, width) for path in paths]


def read_listed(model, listing: Path) -> list[tuple[str, str]]:
    """``(read, true)`` text of every snippet in ``listing``, read by ``model`` at batch 16."""
    from quire.config import RecognizePredictConfig
    from quire.lists import read_list
    from quire.recognize.predict import recognize

    entries, _ = read_list(listing)
    images = _load(model, [e.path for e in entries])
    found = [reading.text for reading in recognize(model, images, RecognizePredictConfig())]
    return list(zip(found, [e.text for e in entries], strict=True))


def snippets_per_second(model, paths: list[Path], batch_size: int) -> float:
    """Snippets ``model`` reads a second in batches of ``batch_size`` (greedy decoding
    included), the median of three runs."""
    from bench.timing import median_seconds
    from quire.config import RecognizePredictConfig
    from quire.recognize.predict import recognize

    images = _load(model, paths)
    config = RecognizePredictConfig(batch_size=batch_size)
    seconds = median_seconds(lambda: recognize(model, images, config), 3)
    return round(len(images) / seconds, 2)
