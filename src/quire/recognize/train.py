"""quire recognize train: a CRNN + CTC line recognizer from ``path<TAB>[weight<TAB>]text`` lists.

Lines are read once and kept in memory at the network's height; batches are
drawn from lines of similar width. After every epoch the model is scored on the
validation lines (symbol error rate: tokens for music, characters for text); the
best model is written to the model directory at once, so a crash never loses it,
and training stops after ``patience`` epochs without improvement.

Training state (weights, optimiser, epoch, step, best score) is saved beside
the model as ``<model>.checkpoint.pt`` after every epoch and when interrupted
(Ctrl-C); ``--resume`` continues from it. It holds only tensors and plain values
and is loaded with ``weights_only``, so loading it runs no code.

Under ``torchrun`` (or any launcher that sets ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``) every process trains on its share of each epoch's batches
through PyTorch's DistributedDataParallel (NCCL on GPUs, gloo on the CPU);
process 0 validates and writes.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quire.batch import BatchResult, progress, run_batch
from quire.config import RecognizePredictConfig, RecognizeTrainConfig
from quire.distributed import Distributed
from quire.errors import InputError, QuireError
from quire.lists import Entry, read_list
from quire.models import (
    base_record,
    checkpoint_path,
    load_checkpoint,
    load_model,
    pick_device,
    save_checkpoint,
    save_model,
    training_record,
)
from quire.recognize.data import line_augmenter, load_line, to_batch, width_batches
from quire.recognize.vocabulary import Vocabulary, unknown_report

if TYPE_CHECKING:
    from quire.recognize.network import Recognizer

log = logging.getLogger("quire")


@dataclass
class Lines:
    """Lines ready for training: scaled images, symbol indices, weights, texts."""

    images: list[np.ndarray] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def widths(self) -> list[int]:
        return [image.shape[1] for image in self.images]


def _needed_frames(labels: list[int]) -> int:
    """CTC needs a frame per symbol and a blank between repeated ones."""
    return len(labels) + sum(a == b for a, b in itertools.pairwise(labels))


def load_lines(
    entries: list[Entry], vocabulary: Vocabulary, net: Recognizer, config: RecognizeTrainConfig
) -> tuple[Lines, BatchResult, Counter[str]]:
    """Read and scale every snippet; bad ones are reported and left out.

    Returns the lines, the batch result and the symbols not in the vocabulary
    (those lines are kept, their unknown symbols are not in their labels).
    """
    import torch

    lines, unknown = Lines(), Counter[str]()

    def read(entry: Entry) -> None:
        image = load_line(entry.path, net.height, config.max_width)
        labels, missing = vocabulary.encode(entry.text)
        unknown.update(missing)
        frames = int(net.output_lengths(torch.tensor(image.shape[1])))
        if frames < _needed_frames(labels):
            raise InputError(
                entry.path,
                f"too narrow for its transcription ({frames} frames for {len(labels)} symbols)",
            )
        lines.images.append(image)
        lines.labels.append(labels)
        lines.weights.append(entry.weight)
        lines.texts.append(entry.text)

    result = run_batch(
        entries,
        read,
        description="read lines",
        name=lambda e: f"{e.source} ({e.path})",
        noun="line",
    )
    return lines, result, unknown


class _Batches:
    """Augmented, padded training batches (a map-style dataset of batches)."""

    def __init__(self, lines: Lines, batches: list[list[int]], augment: Any) -> None:
        self.lines, self.batches, self.augment = lines, batches, augment

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        import torch

        chosen = self.batches[index]
        images = [self.lines.images[i] for i in chosen]
        if self.augment is not None:
            images = [self.augment(image=image)["image"] for image in images]
        x, widths = to_batch(images)
        labels = [self.lines.labels[i] for i in chosen]
        return (
            x,
            widths,
            torch.tensor([s for label in labels for s in label], dtype=torch.long),
            torch.tensor([len(label) for label in labels], dtype=torch.long),
            torch.tensor([self.lines.weights[i] for i in chosen]),
        )


def _seed_worker(worker: int) -> None:
    import torch

    info = torch.utils.data.get_worker_info()
    augment = info.dataset.augment
    if augment is not None:
        augment.set_random_seed(info.seed % 2**31)


@dataclass
class _Start:
    """What training starts from: spec, vocabulary, base weights and their vocabulary."""

    spec: str
    vocabulary: Vocabulary
    provenance: dict[str, Any]
    base_state: dict[str, Any] | None = None
    base_vocabulary: Vocabulary | None = None


def _plan(
    entries: list[Entry],
    config: RecognizeTrainConfig,
    base_model: Path | None,
    replace_output_layer: bool,
) -> _Start:
    """A new network, or a base model's (with a new output layer if asked)."""
    from quire.recognize.network import resolve

    texts = [entry.text for entry in entries]
    if base_model is None:
        vocabulary = Vocabulary.from_texts(texts, config.encoding, config.normalization)
        return _Start(resolve(config.architecture), vocabulary, {})
    state, meta = load_model(base_model, "recognizer")
    base = Vocabulary.from_json(meta["vocabulary"])
    if base.encoding != config.encoding:
        raise QuireError(
            f"{base_model}: reads {base.encoding}, the configuration says {config.encoding}"
        )
    provenance = {**base_record(base_model, meta), "base_vocabulary_size": len(base.tokens)}
    if replace_output_layer:
        found = Vocabulary.from_texts(texts, config.encoding, config.normalization)
        return _Start(meta["architecture"]["spec"], found, provenance, state, base)
    unknown = Counter(s for text in texts for s in base.encode(text)[1])
    if unknown:
        raise QuireError(
            f"{base_model}: its vocabulary lacks symbols of the training lines: "
            f"{unknown_report(unknown, sum(1 for t in texts if base.encode(t)[1]))}; "
            "train a new output layer with --replace-output-layer"
        )
    return _Start(meta["architecture"]["spec"], base, provenance, state, base)


def _load_base(net: Recognizer, state: dict[str, Any], base: Vocabulary, new: Vocabulary) -> None:
    """Base weights into ``net``; output rows of symbols both vocabularies have are kept."""
    own = net.state_dict()
    for key, value in state.items():
        if key.startswith("output.") and own[key].shape != value.shape:
            rows = [(new.index[t], i) for t, i in base.index.items() if t in new.index]
            for target, source in [(0, 0), *rows]:
                own[key][target] = value[source]
        elif key in own and own[key].shape == value.shape:
            own[key] = value
        else:
            raise QuireError(f"base model weight {key} does not fit its own architecture")
    net.load_state_dict(own)


def _split(
    entries: list[Entry], validation: list[Entry] | None, config: RecognizeTrainConfig
) -> tuple[list[Entry], list[Entry]]:
    if validation is not None:
        return entries, validation
    shuffled = entries[:]
    random.Random(config.seed).shuffle(shuffled)
    count = min(len(shuffled) - 1, max(1, round(len(shuffled) * config.val_fraction)))
    if not config.val_fraction or len(shuffled) < 2:
        log.warning("no validation lines: the model is scored on its training lines")
        return shuffled, shuffled
    return shuffled[count:], shuffled[:count]


def _read_lists(paths: list[Path]) -> tuple[list[Entry], list[str]]:
    entries, problems = [], []
    for path in paths:
        found, bad = read_list(path)
        entries += found
        problems += bad
    for problem in problems:
        log.error("%s", problem)
    return entries, problems


def validate(net: Recognizer, lines: Lines, vocabulary: Vocabulary, device: Any) -> dict:
    """Error rates of greedy decoding on ``lines`` (see :func:`quire.evaluate.error_rates`)."""
    from quire.evaluate import error_rates
    from quire.recognize.decode import greedy
    from quire.recognize.predict import log_probs

    was_training = net.training
    net.eval()
    found: list[str] = [""] * len(lines.images)
    batching = RecognizePredictConfig()  # batches as prediction forms them
    batches = width_batches(lines.widths, batching.batch_size, max_columns=batching.batch_columns)
    for batch in batches:
        for i, logp in zip(
            batch, log_probs(net, [lines.images[i] for i in batch], device), strict=True
        ):
            found[i] = vocabulary.text(greedy(logp))
    net.train(was_training)
    pairs = list(zip(found, lines.texts, strict=True))
    return error_rates(pairs, vocabulary.encoding, vocabulary.normalization)


def _epoch_batches(
    lines: Lines, config: RecognizeTrainConfig, epoch: int, per_epoch: int
) -> list[list[int]]:
    """The epoch's lines (all, or ``epoch_size`` drawn anew) in width-bucketed batches."""
    rng = random.Random(config.seed * 1000 + epoch)
    chosen = list(range(len(lines.images)))
    if config.epoch_size:
        chosen = [rng.randrange(len(chosen)) for _ in range(per_epoch)]
    widths = [lines.images[i].shape[1] for i in chosen]
    return [[chosen[i] for i in b] for b in width_batches(widths, config.batch_size, rng)]


@dataclass
class _Optimisation:
    """One training step: CTC loss per line (over its length, times its weight),
    gradient clipping, optimiser and schedule; mixed precision on a GPU."""

    model: Any  # the network, or its DistributedDataParallel wrapper
    net: Recognizer
    optimiser: Any
    schedule: Any
    scaler: Any
    device: Any
    amp: bool

    def __post_init__(self) -> None:
        import torch

        self.ctc = torch.nn.CTCLoss(blank=0, reduction="none", zero_infinity=True)

    def __call__(self, x: Any, widths: Any, targets: Any, lengths: Any, weights: Any) -> float:
        import torch

        device = self.device
        with _autocast(device, self.amp):
            logits, frames = self.model(x.to(device), widths.to(device))
        losses = self.ctc(
            logits.float().log_softmax(-1), targets.to(device), frames, lengths.to(device)
        )
        loss = (losses / lengths.to(device).clamp(min=1) * weights.to(device)).mean()
        self.optimiser.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimiser)
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 5.0)
        self.scaler.step(self.optimiser)
        self.scaler.update()
        self.schedule.step()
        return loss.item()


@contextlib.contextmanager
def _autocast(device: Any, enabled: bool) -> Iterator[None]:
    import torch

    if enabled and device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.float16):
            yield
    else:
        yield


def train_recognizer(
    lists: list[Path],
    model_dir: Path,
    config: RecognizeTrainConfig,
    validation_lists: list[Path] | None = None,
    base_model: Path | None = None,
    replace_output_layer: bool = False,
    resume: bool = False,
) -> BatchResult:
    """Train a recognizer on the lines of ``lists`` and write it to ``model_dir``."""
    import torch

    from quire.recognize.network import Recognizer

    if replace_output_layer and base_model is None:
        raise QuireError("--replace-output-layer needs --base-model")
    entries, problems = _read_lists(lists)
    val_entries = None
    if validation_lists:
        val_entries, val_problems = _read_lists(validation_lists)
        problems += val_problems
    if not entries:
        raise QuireError("no usable training line in " + ", ".join(map(str, lists)))
    train_entries, val_entries = _split(entries, val_entries, config)
    checkpoint = None
    if resume:
        checkpoint = load_checkpoint(model_dir)
        start = _Start(
            checkpoint["spec"],
            Vocabulary.from_json(checkpoint["vocabulary"]),
            checkpoint["provenance"],
        )
    else:
        start = _plan(train_entries, config, base_model, replace_output_layer)
    spec, vocabulary, provenance = start.spec, start.vocabulary, start.provenance
    torch.manual_seed(config.seed)
    distributed, device = Distributed.start(pick_device(config.device))
    net = Recognizer(spec, vocabulary.size)
    if checkpoint is not None:
        net.load_state_dict(checkpoint["net"])
    elif start.base_state is not None and start.base_vocabulary is not None:
        _load_base(net, start.base_state, start.base_vocabulary, vocabulary)
    train, result, unknown = load_lines(train_entries, vocabulary, net, config)
    if unknown:  # only when the vocabulary came from elsewhere
        raise QuireError(f"training lines: {unknown_report(unknown, len(train.images))}")
    val = train  # scored on its training lines: read (and reported) once
    if val_entries is not train_entries:
        val, val_result, val_unknown = load_lines(val_entries, vocabulary, net, config)
        if val_unknown:
            log.warning("validation lines: %s", unknown_report(val_unknown, len(val.images)))
        result.done += val_result.done
        result.failed += val_result.failed
    result.failed += [(p, p) for p in problems]
    if not train.images or not val.images:
        raise QuireError("no usable training or validation line left")
    frozen = [m for part in config.freeze for m in net.parts()[part]]
    for module in frozen:
        module.requires_grad_(False)
    net.to(device)
    model = distributed.wrap(net, device)
    per_epoch = config.epoch_size or len(train.images)
    steps = max(1, per_epoch // config.batch_size // distributed.world)
    optimiser = torch.optim.AdamW(
        [p for p in net.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    state = {"epoch": 0, "step": 0, "best": None, "stale": 0}
    if checkpoint is not None:
        optimiser.load_state_dict(checkpoint["optimiser"])
        state = checkpoint["state"]
        log.info("resuming after epoch %d (step %d)", state["epoch"], state["step"])
    # one cycle over all epochs; a resumed run may have been given more epochs
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser,
        config.learning_rate,
        total_steps=max(config.epochs * steps, state["step"]) + 1,
        pct_start=0.05,
        last_epoch=state["step"] - 1,
    )
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp and device.type == "cuda")
    augment = line_augmenter(config.seed + state["epoch"]) if config.augment else None
    meta = _meta_of(
        config, spec, vocabulary, net, provenance, len(train.images), len(val.images), lists
    )

    def keep_state() -> None:
        if distributed.main:
            payload = {
                "net": net.state_dict(),
                "optimiser": optimiser.state_dict(),
                "state": state,
                "spec": spec,
                "vocabulary": vocabulary.to_json(),
                "provenance": provenance,
            }
            save_checkpoint(model_dir, payload)

    optimise = _Optimisation(model, net, optimiser, schedule, scaler, device, config.amp)
    try:
        while state["epoch"] < config.epochs:
            epoch = state["epoch"] + 1
            batches = _epoch_batches(train, config, epoch, per_epoch)
            batches = distributed.share(batches)[:steps]
            loader = torch.utils.data.DataLoader(
                _Batches(train, batches, augment),
                batch_size=None,
                shuffle=False,
                num_workers=config.workers,
                worker_init_fn=_seed_worker,
                persistent_workers=False,
            )
            net.train()
            for module in frozen:
                module.eval()
            started, seen, total_loss = time.monotonic(), 0, 0.0
            with progress(f"epoch {epoch}", len(batches)) as advance:
                for batch in loader:
                    total_loss += optimise(*batch)
                    state["step"] += 1
                    seen += len(batch[0])
                    advance()
            state["epoch"] = epoch
            speed = seen * distributed.world / max(time.monotonic() - started, 1e-9)
            stop = False
            if distributed.main:
                scores = validate(net, val, vocabulary, device)
                better = state["best"] is None or scores["ser"] < state["best"]
                if better:
                    state["best"], state["stale"] = scores["ser"], 0
                    _save(model_dir, net, meta, scores, state)
                else:
                    state["stale"] += 1
                log.info(
                    "epoch %d: loss %.4f, validation SER %.2f %% CER %.2f %% (best %.2f %%), "
                    "%.1f lines/s",
                    epoch,
                    total_loss / max(1, len(batches)),
                    100 * scores["ser"],
                    100 * scores["cer"],
                    100 * state["best"],
                    speed,
                )
                keep_state()
                stop = state["stale"] >= config.patience
                if stop:
                    log.info("no improvement in %d epochs: stopping", state["stale"])
            if distributed.agree(stop, device):
                break
        distributed.stop(completed=True)
    except KeyboardInterrupt:
        keep_state()
        log.error(
            "interrupted: state saved to %s; continue with --resume", checkpoint_path(model_dir)
        )
        raise SystemExit(130) from None
    finally:
        distributed.stop()
    if distributed.main:
        log.info("model written to %s (validation SER %.2f %%)", model_dir, 100 * state["best"])
    return result


def _save(model_dir: Path, net: Recognizer, meta: dict, scores: dict, state: dict) -> None:
    meta = {
        **meta,
        "metrics": {"validation": {**scores, "epoch": state["epoch"], "step": state["step"]}},
    }
    save_model(model_dir, net.state_dict(), meta)


def _meta_of(
    config: RecognizeTrainConfig,
    spec: str,
    vocabulary: Vocabulary,
    net: Recognizer,
    provenance: dict[str, Any],
    train: int,
    val: int,
    lists: list[Path],
) -> dict[str, Any]:
    from quire.recognize.network import PRESETS

    preset = next((name for name, value in PRESETS.items() if value == spec), None)
    return {
        "kind": "recognizer",
        "architecture": {"spec": spec, "preset": preset},
        "vocabulary": vocabulary.to_json(),
        "input": {
            "height": net.height,
            "channels": net.channels,
            "normalisation": "ink = 1 - gray / 255; lines scaled to the height, padded white",
        },
        "training": training_record(
            lists, config, {"train_lines": train, "val_lines": val}, provenance
        ),
    }
