"""Seconds per page of the tooling stages on generated piano pages (150 dpi, 4 systems):
cut (one process and two), merge, order, words, language, export (every format)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

PAGES = 8


def run() -> dict:
    from bench.timing import median_seconds
    from quire.config import CutConfig, ExportConfig, LanguageConfig, OrderConfig, SynthMusicConfig
    from quire.cut import cut
    from quire.export import export
    from quire.language import language
    from quire.merge import merge
    from quire.order import order
    from quire.synth.music import synth_music
    from quire.words import words

    with tempfile.TemporaryDirectory() as folder:
        data, work = Path(folder) / "data", Path(folder) / "work"
        synth_music(
            data, SynthMusicConfig(pages=PAGES, dpi=150, seed=5, kind="piano", max_systems=4)
        )
        shutil.copytree(data / "page", work / "page")
        cut(data / "images", work, CutConfig())
        rows = (work / "lists" / "staves-gt.txt").read_text().splitlines()
        results = work / "results.tsv"
        results.write_text(
            "".join(f"lists/{r.split(chr(9))[0]}\t0.9\t{r.split(chr(9))[1]}\n" for r in rows)
        )
        stages = {
            "cut": lambda: cut(data / "images", work, CutConfig()),
            "cut_2_workers": lambda: cut(data / "images", work, CutConfig(workers=2)),
            "merge": lambda: merge(work, results),
            "order": lambda: order(work, OrderConfig()),
            "words": lambda: words(work),
            "language": lambda: language(work, LanguageConfig()),
            "export": lambda: export(data / "images", work, ExportConfig()),
        }
        seconds = {name: median_seconds(stage, 3) / PAGES for name, stage in stages.items()}
    return {
        "pages": f"{PAGES} generated piano pages, 150 dpi, up to 4 systems",
        "median_seconds_per_page": {name: round(s, 4) for name, s in seconds.items()},
        "cut_speedup_2_workers": round(seconds["cut"] / seconds["cut_2_workers"], 2),
    }
