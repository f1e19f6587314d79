"""Model directories: ``model.safetensors`` (weights) and ``model.json`` (everything else).

Loading needs nothing but the directory and never runs code from it. Writing goes
to a temporary directory beside the target that is renamed into place, so a
killed writer never leaves a half-written model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quire.errors import InputError, QuireError
from quire.io import atomic_open, interrupts_held, umask

if TYPE_CHECKING:
    import numpy as np
    import torch

WEIGHTS = "model.safetensors"
META = "model.json"
# The fields of model.json that building a model of each kind needs, with their JSON type.
REQUIRED_FIELDS: dict[str, dict[str, type]] = {
    "layout": {"layers": list, "architecture": dict},
    "recognizer": {"vocabulary": dict, "architecture": dict},
}


def git_commit() -> str | None:
    """The commit of the quire checkout, when running from one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def pick_device(name: str) -> torch.device:
    """``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``; on the CPU,
    torch's threads are fitted to the CPUs free for it (:func:`quire.cpus.fit_threads`)."""
    import torch

    from quire.cpus import fit_threads

    device = torch.device(
        name if name != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    )
    if device.type == "cpu":
        fit_threads()
    return device


def ink(gray: np.ndarray) -> torch.Tensor:
    """8-bit grayscale pixels as the networks' input: ink in 0…1, 1 = black."""
    import torch

    return 1.0 - torch.tensor(gray, dtype=torch.float32) / 255.0


def training_record(
    data: list[Path], config: Any, counts: dict[str, int], provenance: dict[str, Any]
) -> dict[str, Any]:
    """The ``training`` entry of ``model.json``: data, counts, configuration, version."""
    from quire import __version__

    return {
        "data": [str(p) for p in data],
        **counts,
        "config": config.model_dump(mode="json"),
        "quire": __version__,
        "commit": git_commit(),
        **provenance,
    }


def save_model(path: Path, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write a model directory atomically (replacing one that is there)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    with interrupts_held():
        try:
            weights = {k: v.detach().cpu().contiguous() for k, v in state.items()}
            save_file(weights, str(staging / WEIGHTS))
            (staging / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
            mask = umask()
            staging.chmod(0o777 & ~mask)  # mkdtemp makes it private; a model is for sharing
            for file in staging.iterdir():
                file.chmod(0o666 & ~mask)
            old = None
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                path.replace(old)
            staging.replace(path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def read_meta(path: Path, kind: str) -> dict[str, Any]:
    """The ``model.json`` of a model directory of ``kind``; a clear :class:`InputError` when
    unusable."""
    if not (path / META).is_file() or not (path / WEIGHTS).is_file():
        raise InputError(path, f"not a model directory (needs {WEIGHTS} and {META})")
    try:
        meta = json.loads((path / META).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path / META, f"unreadable ({exc})") from None
    if not isinstance(meta, dict):
        raise InputError(path / META, f"is a JSON {type(meta).__name__}, not an object")
    if meta.get("kind") != kind:
        raise InputError(path, f"is a {meta.get('kind')!r} model, not a {kind!r} model")
    for name, required in REQUIRED_FIELDS.get(kind, {}).items():
        if name not in meta:
            raise InputError(path / META, f"lacks the field {name!r}")
        if not isinstance(meta[name], required):
            raise InputError(path / META, f"field {name!r} is not a JSON {required.__name__}")
    return meta


def model_version(meta: dict[str, Any]) -> str:
    """What names a model's version in provenance: package version and training commit."""
    training = meta.get("training", {})
    commit = (training.get("commit") or "")[:12]
    return "+".join(filter(None, [training.get("quire"), commit])) or "unknown"


def load_model(path: Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a model directory of ``kind``; a clear :class:`InputError` when unusable."""
    from safetensors.torch import load_file

    meta = read_meta(path, kind)
    try:
        state = load_file(str(path / WEIGHTS))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise InputError(path / WEIGHTS, f"unreadable weights ({exc})") from None
    return state, meta


def load_weights(net: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Put the weights of the model directory ``path`` into ``net``; one line saying what
    differs when they belong to another network."""
    own = net.state_dict()
    missing = own.keys() - state.keys()
    extra = state.keys() - own.keys()
    shapes = [k for k in own.keys() & state.keys() if own[k].shape != state[k].shape]
    if missing or extra or shapes:
        raise InputError(
            path,
            f"weights do not fit the network model.json describes: of {len(own)} tensors, "
            f"{len(shapes)} differ in shape, {len(missing)} are missing and {len(extra)} "
            "are unknown; was it trained with another --architecture?",
        )
    net.load_state_dict(state)


def base_record(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Provenance of a fine-tuned model: its base's path, and how that base was trained
    and scored (nested, so a chain of fine-tunings keeps every step's record)."""
    return {
        "base_model": str(path),
        "base_training": meta.get("training"),
        "base_metrics": meta.get("metrics"),
    }


def checkpoint_path(model_dir: Path) -> Path:
    """Where training keeps the state it resumes from: beside the model directory."""
    return model_dir.with_name(f"{model_dir.name}.checkpoint.pt")


def save_checkpoint(model_dir: Path, payload: dict[str, Any]) -> None:
    """Write training state (tensors and plain values only) atomically."""
    import torch

    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with interrupts_held(), atomic_open(checkpoint_path(model_dir)) as handle:
        torch.save(payload, handle)


def load_checkpoint(model_dir: Path) -> dict[str, Any]:
    """The training state saved for ``model_dir``, its tensors on the CPU (the trainer
    moves them to its device, so a GPU's checkpoint resumes anywhere); no code is run
    in loading it."""
    import torch

    path = checkpoint_path(model_dir)
    if not path.is_file():
        raise QuireError(f"{path}: no checkpoint to resume from")
    return torch.load(path, weights_only=True, map_location="cpu")
