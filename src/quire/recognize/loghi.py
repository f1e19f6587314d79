"""quire recognize import-loghi: a Loghi-HTR model directory → a quire recognizer.

A Loghi-HTR model is a Keras model built from a VGSL spec. Its layers are read
one by one and written as the same layers of a quire network (spec string and
weights), so the imported model gives the Keras model's outputs; anything
without an exact counterpart stops the import with one line naming the layer.

TensorFlow is imported here and nowhere else (the ``quire[loghi]`` extra).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quire.errors import InputError, QuireError
from quire.recognize.vocabulary import TEXT, Vocabulary

if TYPE_CHECKING:
    from quire.recognize.network import Recognizer

log = logging.getLogger("quire")

_ACTIVATION_LETTERS = {"relu": "r", "tanh": "t", "sigmoid": "s", "linear": "l"}
LOGHI_OFFSET, LOGHI_MARGIN = -0.5, 25  # Loghi-HTR reads 0.5 - gray / 255, 25 columns of 0
_TORCH_EPSILON = 1e-5  # torch's batch-norm epsilon; Keras's is folded into the variances


class UnconvertibleLayer(QuireError):
    """A Keras layer that has no exact counterpart in a quire network."""


@dataclass
class Conversion:
    """The quire spec tokens read so far and, per parametric quire module in build
    order, the function that fills it from the Keras weights."""

    height: int
    channels: int
    tokens: list[str] = field(default_factory=list)
    fillers: list[Callable[[Any], None]] = field(default_factory=list)
    maps: tuple[int, int] = field(init=False)  # (height, channels) of the convolution maps
    flatten: tuple[int, int] | None = None  # the same, from a Reshape to the layer after it
    frames: bool = False  # past the maps: a sequence of frames
    output: Callable[[Any, list[int]], None] | None = None
    units: int = 0  # of the output layer
    last: Any = None  # the output layer

    def __post_init__(self) -> None:
        self.maps = (self.height, self.channels)

    @property
    def spec(self) -> str:
        return f"[1,{self.height},0,{self.channels} {' '.join(self.tokens)}]"


def keras_model(model_dir: Path) -> Any:
    """The Keras model of a Loghi-HTR model directory (TensorFlow is imported here)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import keras
    except ImportError:
        raise QuireError(
            "import-loghi needs TensorFlow: pip install 'quire[loghi]' (or use the loghi image)"
        ) from None
    path = model_dir / "model.keras"
    if not path.is_file():
        raise InputError(model_dir, "not a Loghi-HTR model directory (no model.keras)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for files it cannot rebuild
        raise InputError(path, f"Keras cannot load it ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def convert(model: Any) -> Conversion:
    """The quire layers of a Keras model and how to fill them with its weights."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    shape = model.inputs[0].shape  # (batch, width, height, channels): Loghi reads lines
    if len(shape) != 4 or shape[2] is None or shape[3] is None:  # along the width
        raise UnconvertibleLayer(
            f"input {tuple(shape)}: expected (batch, width, height, channels) with a fixed "
            "height and channel count"
        )
    state = Conversion(int(shape[2]), int(shape[3]), [f"Io{LOGHI_OFFSET:g},{LOGHI_MARGIN}"])
    while layers and type(layers[-1]).__name__ in ("Activation", "Softmax"):
        _need(
            layers[-1],
            _activation_name(layers[-1]) in ("softmax", "linear"),
            "the last activation must be softmax",
        )
        layers.pop()
    if not layers or type(layers[-1]).__name__ != "Dense":
        raise UnconvertibleLayer("the model does not end in a dense output layer")
    state.last = layers[-1]
    index = 0
    while index < len(layers):
        layer, following = layers[index], layers[index + 1 : index + 2]
        index += _READERS.get(type(layer).__name__, _unknown)(state, layer, following)
    return state


def _weights(layer: Any) -> dict[str, np.ndarray]:
    """A layer's weights by their short names (kernel, bias, gamma, …)."""
    return {w.path.rsplit("/", 1)[-1]: np.asarray(w.numpy()) for w in layer.weights}


def _activation_name(layer: Any) -> str:
    return layer.get_config().get("activation", "linear")


def _activation(layer: Any) -> str:
    name = _activation_name(layer)
    if name not in _ACTIVATION_LETTERS:
        raise UnconvertibleLayer(f"{layer.name}: activation {name!r} has no quire counterpart")
    return _ACTIVATION_LETTERS[name]


def _folded_activation(layer: Any, following: list[Any]) -> tuple[str, int]:
    """The activation letter of ``layer`` and how many layers it used: its own activation,
    or a separate Activation layer right after it when its own is linear."""
    own = _activation(layer)
    if own == "l" and following and type(following[0]).__name__ == "Activation":
        return _activation(following[0]), 2
    return own, 1


def _set(parameter: Any, value: np.ndarray) -> None:
    import torch

    with torch.no_grad():
        parameter.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))


def _need(layer: Any, condition: bool, what: str) -> None:
    if not condition:
        raise UnconvertibleLayer(f"{layer.name} ({type(layer).__name__}): {what}")


def _conv(state: Conversion, layer: Any, following: list[Any]) -> int:
    config = layer.get_config()
    _need(layer, not state.frames, "convolutions after a Reshape are not supported")
    _need(layer, tuple(config["strides"]) == (1, 1), "strides other than 1 are not supported")
    _need(layer, tuple(config["dilation_rate"]) == (1, 1), "dilation is not supported")
    _need(layer, config.get("groups", 1) == 1, "grouped convolution is not supported")
    kw, kh = config["kernel_size"]  # Loghi's first spatial axis is the width
    _need(
        layer,
        config["padding"] == "same" and kh % 2 == 1 and kw % 2 == 1,
        "only 'same' padding with odd kernels is supported",
    )
    act, used = _folded_activation(layer, following)
    weights = _weights(layer)
    kernel = weights["kernel"].transpose(3, 2, 1, 0)  # (w, h, in, out) → (out, in, h, w)
    bias = weights.get("bias", np.zeros(kernel.shape[0], np.float32))
    filters = kernel.shape[0]
    state.tokens.append(f"C{act}{kh},{kw},{filters}")

    def fill(module: Any) -> None:
        _set(module.weight, kernel)
        _set(module.bias, bias)

    state.fillers.append(fill)
    state.maps = (state.maps[0], filters)
    return used


def _batch_norm(state: Conversion, layer: Any, _following: list[Any]) -> int:
    config = layer.get_config()
    axis = config["axis"]
    axis = axis[0] if isinstance(axis, list | tuple) and len(axis) == 1 else axis
    _need(layer, axis in (-1, 3) and not state.frames, "only over the channels of maps")
    weights = _weights(layer)
    channels = state.maps[1]
    gamma = weights.get("gamma", np.ones(channels, np.float32))
    beta = weights.get("beta", np.zeros(channels, np.float32))
    variance = weights["moving_variance"] + config["epsilon"] - _TORCH_EPSILON
    state.tokens.append("Bn")

    def fill(module: Any) -> None:
        _set(module.weight, gamma)
        _set(module.bias, beta)
        _set(module.running_mean, weights["moving_mean"])
        _set(module.running_var, variance)

    state.fillers.append(fill)
    return 1


def _pool(state: Conversion, layer: Any, _following: list[Any]) -> int:
    config = layer.get_config()
    _need(layer, not state.frames, "pooling after a Reshape is not supported")
    pw, ph = config["pool_size"]
    sw, sh = config["strides"] or config["pool_size"]
    same = {"same": "s", "valid": ""}[config["padding"]]
    state.tokens.append(f"Mp{same}{ph},{pw},{sh},{sw}")
    height = -(-state.maps[0] // sh) if same else (state.maps[0] - ph) // sh + 1
    state.maps = (height, state.maps[1])
    return 1


def _dropout(state: Conversion, layer: Any, _following: list[Any]) -> int:
    state.tokens.append(f"Do{layer.get_config()['rate']:g}")
    return 1


def _reshape(state: Conversion, layer: Any, _following: list[Any]) -> int:
    target = tuple(layer.get_config()["target_shape"])
    height, channels = state.maps
    _need(
        layer,
        len(target) == 2 and target[0] in (-1, None) and target[1] == height * channels,
        f"only (width, height × channels) = (-1, {height * channels}), got {target}",
    )
    _need(layer, not state.frames, "a second Reshape is not supported")
    state.flatten, state.frames = (height, channels), True
    return 1


def _features(state: Conversion, layer: Any) -> Callable[[np.ndarray], np.ndarray]:
    """How to reorder the input rows of the first layer after the maps: Keras flattens
    (height, channels), quire (channels, height)."""
    _need(layer, state.frames, "needs a Reshape of the maps to frames before it")
    if state.flatten is None:
        return lambda rows: rows
    height, channels = state.flatten
    state.flatten = None
    order = np.arange(height * channels).reshape(height, channels).T.reshape(-1)

    def reorder(rows: np.ndarray) -> np.ndarray:
        return rows[order]

    return reorder


def _dense(state: Conversion, layer: Any, following: list[Any]) -> int:
    weights = _weights(layer)
    reorder = _features(state, layer)
    kernel = reorder(weights["kernel"]).T  # (in, out) → (out, in)
    bias = weights.get("bias", np.zeros(kernel.shape[0], np.float32))
    if layer is state.last:
        _need(layer, _activation_name(layer) in ("softmax", "linear"), "output must be softmax")

        def fill_output(module: Any, order: list[int]) -> None:
            _set(module.weight, kernel[order])
            _set(module.bias, bias[order])

        state.output, state.units = fill_output, kernel.shape[0]
        return 1
    act, used = _folded_activation(layer, following)
    state.tokens.append(f"F{act}{kernel.shape[0]}")

    def fill(module: Any) -> None:
        _set(module.weight, kernel)
        _set(module.bias, bias)

    state.fillers.append(fill)
    return used


def _recurrent(state: Conversion, layer: Any, _following: list[Any]) -> int:
    bidirectional = type(layer).__name__ == "Bidirectional"
    if bidirectional:
        _need(layer, layer.get_config()["merge_mode"] == "concat", "merge_mode must be concat")
        cells = [layer.forward_layer, layer.backward_layer]
    else:
        cells = [layer]
    kind = type(cells[0]).__name__
    _need(layer, kind in ("LSTM", "GRU"), f"{kind} is not an LSTM or GRU")
    for cell in cells:
        config = cell.get_config()
        _need(layer, config["return_sequences"], "must return sequences")
        _need(layer, config["activation"] == "tanh", "activation must be tanh")
        _need(layer, config["recurrent_activation"] == "sigmoid", "gates must be sigmoid")
        _need(layer, config.get("use_bias", True), "recurrent layers without bias")
        if kind == "GRU":
            _need(layer, config.get("reset_after", True), "GRU needs reset_after=True")
    _need(layer, bidirectional or not cells[0].get_config()["go_backwards"], "runs backwards")
    reorder = _features(state, layer)
    units = cells[0].get_config()["units"]
    state.tokens.append(f"{kind[0]}{'b' if bidirectional else 'f'}x{units}")
    gates = [0, 1, 2, 3] if kind == "LSTM" else [1, 0, 2]  # GRU: Keras z r h, torch r z n

    def blocks(matrix: np.ndarray) -> np.ndarray:
        return np.concatenate([matrix[..., g * units : (g + 1) * units] for g in gates], -1)

    def fill(module: Any) -> None:
        for suffix, cell in zip(("", "_reverse"), cells, strict=False):
            weights = _weights(cell)
            bias = weights["bias"]
            input_bias, recurrent_bias = (
                (bias, np.zeros_like(bias)) if bias.ndim == 1 else (bias[0], bias[1])
            )
            rnn = module.rnn
            _set(getattr(rnn, f"weight_ih_l0{suffix}"), blocks(reorder(weights["kernel"])).T)
            _set(getattr(rnn, f"weight_hh_l0{suffix}"), blocks(weights["recurrent_kernel"]).T)
            _set(getattr(rnn, f"bias_ih_l0{suffix}"), blocks(input_bias))
            _set(getattr(rnn, f"bias_hh_l0{suffix}"), blocks(recurrent_bias))

    state.fillers.append(fill)
    return 1


def _unknown(_state: Conversion, layer: Any, _following: list[Any]) -> int:
    raise UnconvertibleLayer(f"{layer.name} ({type(layer).__name__}): no quire counterpart")


_READERS = {
    "Conv2D": _conv,
    "BatchNormalization": _batch_norm,
    "MaxPooling2D": _pool,
    "Dropout": _dropout,
    "Reshape": _reshape,
    "Dense": _dense,
    "Bidirectional": _recurrent,
    "LSTM": _recurrent,
    "GRU": _recurrent,
}


def loghi_vocabulary(model_dir: Path) -> list[str]:
    """Loghi's token list, index = tokenizer index: padding (``[PAD]`` or ``[MASK]``),
    ``[UNK]``, then the characters (``tokenizer.json``, or the older ``charlist.txt``)."""
    tokenizer, charlist = model_dir / "tokenizer.json", model_dir / "charlist.txt"
    try:
        if tokenizer.is_file():
            data = json.loads(tokenizer.read_text(encoding="utf-8"))
            tokens = [data[str(i)] for i in range(len(data))]
            if tokens[:1] not in (["[PAD]"], ["[MASK]"]) or tokens[1:2] != ["[UNK]"]:
                raise InputError(tokenizer, "expected [PAD] (or [MASK]) and [UNK] as tokens 0, 1")
            return tokens
        if charlist.is_file():
            return ["[PAD]", "[UNK]", *charlist.read_text(encoding="utf-8")]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        source = tokenizer if tokenizer.is_file() else charlist
        raise InputError(source, f"unreadable ({exc})") from None
    raise InputError(model_dir, "neither tokenizer.json nor charlist.txt is there")


def quire_vocabulary(tokens: list[str], units: int) -> tuple[Vocabulary, list[int]]:
    """The quire vocabulary of a Loghi model and, per quire output, the Keras unit.

    Keras unit ``u`` stands for token ``u + 1`` (unit 0 for ``[UNK]``) and the last
    unit is the CTC blank; quire puts the blank first. ``[UNK]`` reads as U+FFFD."""
    if units != len(tokens):
        raise UnconvertibleLayer(
            f"the output layer has {units} units; the tokenizer needs {len(tokens)} "
            f"({len(tokens) - 2} characters, [UNK] and the CTC blank)"
        )
    characters = tokens[2:]
    if len(set(characters)) != len(characters):
        raise UnconvertibleLayer("the tokenizer lists a character twice")
    unknown = "\ufffd" if "\ufffd" not in characters else "[UNK]"
    vocabulary = Vocabulary(TEXT, (unknown, *characters), "none")
    return vocabulary, [units - 1, *range(units - 1)]


def torch_network(conversion: Conversion, order: list[int]) -> Recognizer:
    """The quire network of a conversion, with the Keras weights."""
    from quire.recognize.network import Recognizer

    net = Recognizer(conversion.spec, len(order))
    for module, fill in zip(net.weighted_layers(), conversion.fillers, strict=True):
        fill(module)
    conversion.output(net.output, order)
    return net.eval()


def keras_line(ink: np.ndarray) -> np.ndarray:
    """A line as Loghi-HTR's models read it: ``ink`` (H×W, 1 = black) shifted to
    ``0.5 - gray / 255``, with the zero margins, width first (W×H×1)."""
    margins = ((0, 0), (LOGHI_MARGIN, LOGHI_MARGIN))
    return np.pad(ink.astype(np.float32) + LOGHI_OFFSET, margins).T[:, :, None]


def largest_difference(
    model: Any, net: Recognizer, order: list[int], width: int = 300, seed: int = 0
) -> float:
    """The largest difference of output probabilities of the Keras model and the quire
    network (whose output ``i`` is Keras unit ``order[i]``) on one random line."""
    import torch

    ink = np.random.default_rng(seed).random((net.height, width), np.float32)
    expected = np.asarray(model(keras_line(ink)[None], training=False))[0][:, order]
    with torch.inference_mode():
        logits, _ = net(torch.from_numpy(ink)[None, None], torch.tensor([width]))
    got = logits[:, 0].softmax(-1).numpy()
    if got.shape != expected.shape:
        raise UnconvertibleLayer(f"outputs differ in shape: {got.shape} against {expected.shape}")
    return float(np.abs(got - expected).max())


def import_loghi(model_dir: Path, output: Path, tolerance: float = 1e-4) -> Path:
    """Convert the Loghi-HTR model in ``model_dir`` into the quire model ``output``.

    The converted network is checked against the Keras model on a random line before
    anything is written."""
    from quire import __version__
    from quire.models import git_commit, save_model

    tokens = loghi_vocabulary(model_dir)
    config = _loghi_config(model_dir)
    model = keras_model(model_dir)
    try:
        conversion = convert(model)
        vocabulary, order = quire_vocabulary(tokens, conversion.units)
        net = torch_network(conversion, order)
        difference = largest_difference(model, net, order)
    except UnconvertibleLayer as exc:
        raise InputError(model_dir / "model.keras", f"cannot convert: {exc}") from None
    if difference > tolerance:
        raise InputError(
            model_dir / "model.keras",
            f"the converted network differs from the Keras model by {difference:.2g} "
            f"(tolerance {tolerance:g}); nothing written",
        )
    meta = {
        "kind": "recognizer",
        "architecture": {"spec": conversion.spec, "preset": None},
        "vocabulary": vocabulary.to_json(),
        "input": {
            "height": net.height,
            "channels": net.channels,
            "normalisation": "as Loghi-HTR: 0.5 - gray / 255, 25 columns of 0 either side",
        },
        "training": {
            "imported": {
                "from": "loghi-htr",
                "source": str(model_dir.resolve()),
                "config": config,
                "largest_difference": difference,
            },
            "quire": __version__,
            "commit": git_commit(),
        },
    }
    save_model(output, net.state_dict(), meta)
    log.info(
        "%s: %d characters, spec %s; outputs within %.1g of the Keras model; written to %s",
        model_dir,
        len(vocabulary.tokens) - 1,
        conversion.spec,
        difference,
        output,
    )
    return output


def _loghi_config(model_dir: Path) -> dict[str, Any]:
    """Loghi's ``config.json`` (kept in the quire model's provenance), when there is one."""
    path = model_dir / "config.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"unreadable ({exc})") from None


LOGHI_SPECS = {
    # Loghi-HTR's model library, in its own spec dialect (None,64,None,1 = batch,
    # height, width, channels; Rc: maps to frames; O1s<n>: softmax output).
    "recommended": "None,64,None,1 Cr3,3,24 Mp2,2,2,2 Bn Cr3,3,48 Bn Cr3,3,96 Mp2,2,2,2 Bn "
    "Cr3,3,96 Mp2,2,2,2 Bn Rc Bl512 D50 Bl512 D50 Bl512 D50 Bl512 D50 Bl512 D50 O1s92",
    "model9": "None,64,None,1 Cr3,3,24 Bn Mp2,2,2,2 Cr3,3,48 Bn Mp2,2,2,2 Cr3,3,96 Bn "
    "Cr3,3,96 Bn Mp2,2,2,2 Rc Bl256,D50 Bl256,D50 Bl256,D50 Bl256,D50 Bl256,D50 O1s92",
}


def vgslify_spec(spec: str, units: int) -> str:
    """A Loghi spec in vgslify's dialect (width first, ``Rc3``, ``Fs``), with ``units``
    output units."""
    header, *layers = spec.split()
    batch, height, width, channels = header.split(",")
    renamed = [
        "Rc3" if layer == "Rc" else f"F{layer[2]}{units}" if layer.startswith("O1") else layer
        for layer in layers
    ]
    return " ".join([f"{batch},{width},{height},{channels}", *renamed])


def write_loghi_model(spec: str, characters: str, output: Path, seed: int = 0) -> Path:
    """A Loghi-HTR model directory with random weights (vgslify builds the Keras model):
    what tests, benchmarks and the docs convert."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from vgslify import VGSLModelGenerator

    model = VGSLModelGenerator(backend="tensorflow").generate_model(
        vgslify_spec(LOGHI_SPECS.get(spec, spec), len(characters) + 2)
    )
    rng = np.random.default_rng(seed)
    for weight in model.weights:  # scaled as trained weights are, so nothing saturates
        name, shape = weight.path.rsplit("/", 1)[-1], tuple(weight.shape)
        if name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) > 1:
            value = rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
        else:
            value = rng.normal(0, 0.1, shape)
        weight.assign(value.astype(np.float32))
    output.mkdir(parents=True, exist_ok=True)
    model.save(output / "model.keras")
    tokens = ["[PAD]", "[UNK]", *characters]
    (output / "tokenizer.json").write_text(
        json.dumps(dict(enumerate(tokens)), ensure_ascii=False, indent=4), encoding="utf-8"
    )
    config = {"args": {"model": {"model": spec}}, "model_channels": model.inputs[0].shape[-1]}
    (output / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return output
