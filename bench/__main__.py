"""Run every benchmark (or those named) and write bench/results/<name>.json.

A benchmark whose module sets ``ON_REQUEST = True`` (hours on a CPU) runs only
when named. ``QUIRE_BENCH_DEVICE=cuda`` runs those that take a device on a GPU
(bench/timing.py)."""

from __future__ import annotations

import importlib
import json
import platform
import sys
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def main(names: list[str]) -> None:
    from quire import __version__
    from quire.io import atomic_write_text

    named = bool(names)
    names = names or sorted(p.stem for p in HERE.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not named and getattr(module, "ON_REQUEST", False):
            print(f"{name}: runs only when named (python -m bench {name})")
            continue
        figures = module.run()
        record = {
            "benchmark": name,
            "quire": __version__,
            "machine": platform.machine(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            **figures,
        }
        atomic_write_text(RESULTS / f"{name}.json", json.dumps(record, indent=2) + "\n")
        print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
