"""quire layout train: one multi-class pixel classifier for every layer.

Patches are sampled balanced per layer (a layer is drawn uniformly, then one of
its pixels, and the patch is cut around it), augmented, and scored with cross
entropy only where pixels are labelled. Validation computes pixel F1 per layer on
whole held-out pages; the best model is kept and training stops when it has not
improved for ``patience`` validations. A base model can be fine-tuned; layers it
lacks are added (their output weights start fresh).
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quire.batch import BatchResult, progress, run_batch
from quire.config import LayoutTrainConfig
from quire.distributed import Distributed
from quire.errors import InputError, QuireError
from quire.evaluate import pixel_score
from quire.layers import colour
from quire.layout.data import IGNORE, Sample, find_samples, read_layer_folder, read_pixeljs_zip
from quire.models import save_model, training_record

if TYPE_CHECKING:
    import albumentations as A

log = logging.getLogger("quire")
_POINTS_PER_CLASS = 4096


def load_samples(inputs: list[Path], config: LayoutTrainConfig) -> tuple[list[Sample], BatchResult]:
    """Read every sample; bad ones are reported and left out."""
    samples: list[Sample] = []

    def read(entry: tuple[str, Path, str | None]) -> None:
        kind, path, stem = entry
        if kind == "zip":
            sample, count = read_pixeljs_zip(path, config.max_pixels)
            if count != len(config.layers):
                raise InputError(
                    path,
                    f"has {count} layers, the configuration names "
                    f"{len(config.layers)} ({', '.join(config.layers)})",
                )
        else:
            sample = read_layer_folder(path, stem, config.layers, config.max_pixels)
        samples.append(sample)

    result = run_batch(
        find_samples(inputs),
        read,
        description="read pages",
        name=lambda e: str(e[1] if e[2] is None else e[1] / e[2]),
        noun="page",
    )
    return samples, result


class PatchSampler:
    """Balanced patches: a layer uniformly, one of its pixels, a patch around it."""

    def __init__(self, samples: list[Sample], classes: int, patch: int, seed: int) -> None:
        self.samples, self.patch = samples, patch
        self.rng = np.random.default_rng(seed)
        self.points: list[dict[int, np.ndarray]] = []
        for sample in samples:
            per_class = {}
            for c in range(classes):
                ys, xs = np.nonzero(sample.labels == c)
                if len(ys):
                    pick = self.rng.choice(len(ys), min(len(ys), _POINTS_PER_CLASS), replace=False)
                    per_class[c] = np.stack([ys[pick], xs[pick]], axis=1)
            self.points.append(per_class)

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        index = int(self.rng.integers(len(self.samples)))
        sample, points = self.samples[index], self.points[index]
        c = self.rng.choice(list(points))
        y, x = points[c][self.rng.integers(len(points[c]))]
        height, width = sample.image.shape
        size = self.patch
        top = int(np.clip(y - self.rng.integers(size), 0, max(0, height - size)))
        left = int(np.clip(x - self.rng.integers(size), 0, max(0, width - size)))
        image = np.full((size, size), 255, np.uint8)
        labels = np.full((size, size), IGNORE, np.uint8)
        crop = (slice(top, top + size), slice(left, left + size))
        h, w = sample.image[crop].shape
        image[:h, :w] = sample.image[crop]
        labels[:h, :w] = sample.labels[crop]
        return image, labels


def _augmenter(seed: int, affine: float) -> A.Compose:
    import albumentations as A
    import cv2

    return A.Compose(
        [
            A.Affine(
                scale=(0.85, 1.15),
                rotate=(-2, 2),
                border_mode=0,
                fill=255,
                fill_mask=0,
                mask_interpolation=cv2.INTER_LINEAR,
                p=affine,
            ),
            A.RandomBrightnessContrast(0.2, 0.3, p=0.5),
            A.GaussianBlur(blur_limit=(3, 3), p=0.2),
            A.GaussNoise(std_range=(0.02, 0.06), p=0.3),
        ],
        seed=seed,
    )


def augmented(
    augment: A.Compose, image: np.ndarray, labels: np.ndarray, classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Augment a patch; its labels move as one-hot planes interpolated like the image
    and each pixel takes the plane covering most of it, so a thin line keeps the width
    its pixels show. Unlabelled pixels, and pixels that no plane covers by half, are
    left out of the loss."""
    planes = [(labels == c).view(np.uint8) * 255 for c in [*range(classes), IGNORE]]
    out = augment(image=image, masks=planes)
    stack = np.stack(out["masks"])
    best = stack.argmax(axis=0).astype(np.uint8)
    best[(best == classes) | (stack.max(axis=0) < 128)] = IGNORE
    return out["image"], best


def pixel_scores(predicted: np.ndarray, truth: np.ndarray, classes: int) -> dict[str, list]:
    """Precision, recall, F1 and true pixel count per class where ``truth`` is labelled."""
    known = truth != IGNORE
    scores: dict[str, list] = {"precision": [], "recall": [], "f1": [], "true_pixels": []}
    for c in range(classes):
        p, t = (predicted == c) & known, (truth == c) & known
        score = pixel_score(int((p & t).sum()), int(p.sum()), int(t.sum()))
        for key, value in score.items():
            scores[key].append(value)
    return scores


def selection_score(scores: dict[str, list]) -> float:
    """Mean F1 of the layers other than the first (background) that occur in the truth."""
    present = [f for f, n in zip(scores["f1"][1:], scores["true_pixels"][1:], strict=True) if n]
    return float(np.mean(present)) if present else scores["f1"][0]


def _validate(model: Any, pages: list[Sample], classes: int) -> dict[str, list[float]]:
    from quire.layout.predict import predict_probabilities

    model.net.eval()
    predicted = [predict_probabilities(model, s.image).argmax(0) for s in pages]
    model.net.train()
    return pixel_scores(
        np.concatenate([p.ravel() for p in predicted]),
        np.concatenate([s.labels.ravel() for s in pages]),
        classes,
    )


def _initial_state(net: Any, base: Path | None, layers: list[str]) -> dict[str, Any]:
    """Provenance of the start; loads the base model's weights, widening for new layers."""
    if base is None:
        return {}
    from quire.models import base_record, load_model

    state, meta = load_model(base, "layout")
    old = meta["layers"]
    wanted = {k: net.architecture[k] for k in ("depth", "scale", "refine")}
    differ = [
        f"{k} {meta['architecture'].get(k)} (configured {v})"
        for k, v in wanted.items()
        if meta["architecture"].get(k) != v
    ]
    if differ:
        raise QuireError(f"{base}: its architecture differs: {', '.join(differ)}")
    if old != layers[: len(old)]:
        raise QuireError(f"{base}: its layers {old} must start the configured layers {layers}")
    own = net.state_dict()
    count = len(old)
    for key, value in state.items():
        if key not in own or own[key].dim() != value.dim():
            raise QuireError(f"{base}: weight {key} does not fit this architecture")
        if own[key].shape == value.shape:
            own[key] = value
        elif key == "refine.0.weight":  # inputs: old logits, then the page
            own[key][:, :count] = value[:, :count]
            own[key][:, count:-1] = 0  # new layers start without a say in the old ones
            own[key][:, -1] = value[:, -1]
        elif own[key].shape[1:] == value.shape[1:]:  # output rows of the old layers
            own[key][:count] = value
        else:
            raise QuireError(f"{base}: weight {key} does not fit this architecture")
    net.load_state_dict(own)
    return {**base_record(base, meta), "base_layers": old}


def train_layout(
    inputs: list[Path],
    model_dir: Path,
    config: LayoutTrainConfig,
    base_model: Path | None = None,
    resume: bool = False,
) -> BatchResult:
    """Train a layout model on ``inputs`` (Pixel.js zips, synth folders) into ``model_dir``.

    The state is kept in ``<model>.checkpoint.pt`` at every validation and when
    interrupted; ``resume`` goes on from it. Under torchrun or srun every process
    draws its own patches and process 0 validates and writes.
    """
    import torch

    from quire.layout.model import layout_net, to_input
    from quire.layout.predict import LayoutModel
    from quire.models import load_checkpoint, pick_device, save_checkpoint

    saved = load_checkpoint(model_dir) if resume else None
    samples, result = load_samples(inputs, config)
    if not samples:
        raise QuireError("no usable training page")
    random.Random(config.seed).shuffle(samples)
    val_count = round(len(samples) * config.val_fraction) if len(samples) > 1 else 0
    if config.val_fraction and len(samples) > 1:
        val_count = max(1, val_count)
    val_count = min(val_count, len(samples) - 1)  # keep a page to train on
    val, train = samples[:val_count], samples[val_count:]
    classes = len(config.layers)
    torch.manual_seed(config.seed)
    distributed, device = Distributed.start(pick_device(config.device))
    net = layout_net(classes, config.model_dump())
    if saved is None:
        provenance = _initial_state(net, base_model, config.layers)
        state: dict[str, Any] = {"step": 0, "score": None, "metrics": None, "stale": 0}
    else:
        net.load_state_dict(saved["net"])
        provenance, state = saved["provenance"], saved["state"]
        log.info("resuming after step %d", state["step"])
    net.to(device).train()
    model = LayoutModel(net, {"layers": config.layers}, device)
    wrapped = distributed.wrap(net, device)
    sampler = PatchSampler(train, classes, config.patch, config.seed)
    augment = _augmenter(config.seed, config.affine)
    if distributed.rank or state["step"]:  # patches of their own for each process and run
        sampler.rng = np.random.default_rng([config.seed, distributed.rank, state["step"]])
        augment.set_random_seed(config.seed + 1000 * distributed.rank + state["step"])
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    best = None
    if saved is not None:
        optimiser.load_state_dict(saved["optimiser"])
        best = saved["best"]
    # one cycle over all steps; a resumed run may have been given more steps
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser,
        config.learning_rate,
        total_steps=max(config.steps, state["step"]),
        pct_start=0.1,
        last_epoch=state["step"] - 1,
    )

    def keep_state() -> None:
        if distributed.main:
            save_checkpoint(
                model_dir,
                {
                    "net": net.state_dict(),
                    "optimiser": optimiser.state_dict(),
                    "state": state,
                    "best": best,
                    "provenance": provenance,
                },
            )

    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
    start = time.monotonic()
    try:
        with progress("train layout", config.steps - state["step"]) as advance:
            for step in range(state["step"] + 1, config.steps + 1):
                advance()
                images, labels = [], []
                for _ in range(config.batch_size):
                    image, mask = augmented(augment, *sampler(), len(config.layers))
                    images.append(to_input(image))
                    labels.append(torch.from_numpy(mask.astype(np.int64)))
                x, y = torch.cat(images).to(device), torch.stack(labels).to(device)
                loss = loss_fn(wrapped(x), y)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                state["step"] = step
                if step % config.validate_every and step != config.steps:
                    continue
                stop = False
                if distributed.main:
                    scores = _validate(model, val or train[:1], classes)
                    score = selection_score(scores)
                    f1 = zip(config.layers, scores["f1"], strict=True)
                    log.info(
                        "step %d: loss %.4f, F1 %s (%.0f s)",
                        step,
                        loss.item(),
                        " ".join(f"{n}={f:.4f}" for n, f in f1),
                        time.monotonic() - start,
                    )
                    if state["score"] is None or score > state["score"]:
                        best = {k: v.detach().clone() for k, v in net.state_dict().items()}
                        state.update(score=score, metrics={"step": step, **scores}, stale=0)
                    else:
                        state["stale"] += 1
                    keep_state()
                    stop = state["stale"] >= config.patience
                    if stop:
                        log.info("no improvement in %d validations: stopping", state["stale"])
                if distributed.agree(stop, device):
                    break
        distributed.stop(completed=True)
    except KeyboardInterrupt:
        keep_state()
        log.error("interrupted: state saved beside %s; continue with --resume", model_dir)
        raise SystemExit(130) from None
    finally:
        distributed.stop()
    if distributed.main:
        meta = _meta(
            config, net.architecture, state["metrics"], len(train), len(val), provenance, inputs
        )
        save_model(model_dir, best, meta)
        log.info("model written to %s (validation F1 %.4f)", model_dir, state["score"])
    return result


def _meta(
    config: LayoutTrainConfig,
    architecture: dict[str, Any],
    metrics: dict[str, Any],
    train: int,
    val: int,
    provenance: dict[str, Any],
    inputs: list[Path],
) -> dict[str, Any]:
    return {
        "kind": "layout",
        "layers": config.layers,
        "colours": [list(colour(name, i)) for i, name in enumerate(config.layers)],
        "architecture": architecture,
        "input": {"channels": 1, "normalisation": "ink = 1 - gray / 255"},
        "training": training_record(
            inputs, config, {"train_pages": train, "val_pages": val}, provenance
        ),
        "metrics": {"validation": metrics},
    }
