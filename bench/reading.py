"""What a recognizer reads from the snippets of a ground-truth list."""

from __future__ import annotations

from pathlib import Path


def read_listed(model, listing: Path) -> list[tuple[str, str]]:
    """``(read, true)`` text of every snippet in ``listing``, read by ``model`` at batch 16."""
    from quire.config import RecognizePredictConfig
    from quire.lists import read_list
    from quire.recognize.data import load_line
    from quire.recognize.predict import recognize

    entries, _ = read_list(listing)
    images = [load_line(e.path, model.net.height, 8000) for e in entries]
    found = [reading.text for reading in recognize(model, images, RecognizePredictConfig())]
    return list(zip(found, [e.text for e in entries], strict=True))
