"""Recognizer networks described by a VGSL-like spec string (as kraken and Loghi do).

``[1,H,0,1 LAYER LAYER …]`` reads lines of height ``H`` (any width, one channel);
the layers run in order:

- ``Io<offset>,<margin>`` (first, optional): adds ``<offset>`` to the input and
  pads ``<margin>`` columns of zeros on either side (Loghi-HTR's models read
  ``0.5 - gray / 255`` with 25 such columns: ``Io-0.5,25``).

- ``C[b]A<kh>,<kw>,<out>[,<sh>,<sw>]``: convolution, padded to keep the size at
  stride 1; ``b`` adds batch normalisation before the activation ``A``: ``r`` ReLU,
  ``k`` leaky ReLU (slope 0.2), ``t`` tanh, ``s`` sigmoid, ``l`` linear.
- ``Mp<kh>,<kw>[,<sh>,<sw>]``: max pooling (stride defaults to the window);
  ``Mps…`` pads as TensorFlow's ``same`` does (a partial window at the edge
  still gives an output).
- ``Bn``: batch normalisation of the convolution maps.
- ``Do[<p>]``: dropout (p defaults to 0.5).
- ``L<d>x<n>`` / ``G<d>x<n>``: LSTM / GRU along the width, ``<d>`` ``b``
  (bidirectional) or ``f`` (forward), ``<n>`` units per direction.
- ``F<a><n>``: a dense layer of ``<n>`` units applied to every frame, activation
  ``<a>`` as for convolutions.

The first recurrent or dense layer flattens channels × remaining height into
features.

The linear output layer (one unit per symbol and the CTC blank) is added from the
vocabulary, so the same spec serves every vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

PRESETS = {
    # Calvo-Zaragoza & Rizo (2018), the PrIMuS baseline: four conv blocks, 2 × BiLSTM 512.
    "primus": "[1,128,0,1 Cbk3,3,32 Mp2,2 Cbk3,3,64 Mp2,2 Cbk3,3,128 Mp2,2 Cbk3,3,256 Mp2,2 "
    "Do0.5 Lbx512 Do0.5 Lbx512 Do0.5]",
    # quire's default: lines at height 64, narrow convolutions that pool the height
    # down to 4 rows but the width only once (2 px of the line per output frame, so
    # that dense staves in split tokens have a frame for every symbol), 2 × BiLSTM 128.
    "default": "[1,64,0,1 Cbr3,3,16 Mp2,2 Cbr3,3,32 Mp2,1 Cbr3,3,48 Mp2,1 Cbr3,3,64 Mp2,1 "
    "Do0.2 Lbx128 Do0.2 Lbx128 Do0.2]",
    # text lines: the width pooled twice (4 px a frame, still several frames for the
    # narrowest letter at height 64), which halves the recurrent layers' sequence and
    # pays for wider convolutions and 2 × BiLSTM 192 at about 0.8× the default's step.
    "text": "[1,64,0,1 Cbr3,3,16 Mp2,2 Cbr3,3,32 Mp2,2 Cbr3,3,64 Mp2,1 Cbr3,3,96 Mp2,1 "
    "Do0.2 Lbx192 Do0.2 Lbx192 Do0.2]",
}

_HEADER = re.compile(r"^\[\s*(\d+),(\d+),(\d+),(\d+)\s+(.*)\]$")
_CONV = re.compile(r"^C(b?)([rktsl])(\d+),(\d+),(\d+)(?:,(\d+),(\d+))?$")
_POOL = re.compile(r"^Mp(s?)(\d+),(\d+)(?:,(\d+),(\d+))?$")
_DROP = re.compile(r"^Do([\d.]+)?$")
_RNN = re.compile(r"^([LG])([bf])x(\d+)$")
_INPUT = re.compile(r"^Io(-?[\d.]+),(\d+)$")
_DENSE = re.compile(r"^F([rktsl])(\d+)$")
_ACTIVATIONS = {
    "r": lambda: nn.ReLU(inplace=True),
    "k": lambda: nn.LeakyReLU(0.2, inplace=True),
    "t": nn.Tanh,
    "s": nn.Sigmoid,
    "l": nn.Identity,
}


class SpecError(ValueError):
    """A spec string that does not describe a network; the message says where."""


def resolve(architecture: str) -> str:
    """The spec string of a preset name, or ``architecture`` itself."""
    return PRESETS.get(architecture, architecture)


@dataclass(frozen=True)
class _Reduction:
    """How one layer shortens the width: out = (w + 2·pad − kernel) // stride + 1, or
    ⌈w / stride⌉ when padded the ``same`` way."""

    kernel: int
    stride: int
    pad: int
    same: bool = False

    def __call__(self, width: torch.Tensor) -> torch.Tensor:
        if self.same:
            return torch.div(width + self.stride - 1, self.stride, rounding_mode="floor")
        return torch.div(width + 2 * self.pad - self.kernel, self.stride, rounding_mode="floor") + 1


class _Margin:
    """How an input margin widens the line."""

    def __init__(self, margin: int) -> None:
        self.margin = margin

    def __call__(self, width: torch.Tensor) -> torch.Tensor:
        return width + 2 * self.margin


class _InputShift(nn.Module):
    """``Io``: an offset added to the input, then zero columns on either side."""

    def __init__(self, offset: float, margin: int) -> None:
        super().__init__()
        self.offset, self.margin = offset, margin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x + self.offset, (self.margin, self.margin))


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``same`` padding of one axis: (before, after)."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SameMaxPool(nn.Module):
    """Max pooling padded as TensorFlow's ``same`` (padding never wins the maximum)."""

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.pool = nn.MaxPool2d(kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = _same_padding(x.shape[2], self.kernel[0], self.stride[0])
        left, right = _same_padding(x.shape[3], self.kernel[1], self.stride[1])
        return self.pool(nn.functional.pad(x, (left, right, top, bottom), value=-torch.inf))


class _Recurrent(nn.Module):
    """An LSTM or GRU over padded sequences.

    In evaluation the sequences are packed, so that padding never reaches the
    layer and a line's result does not depend on the lines batched with it. In
    training they are not: on the CPU the backward pass of packed sequences is
    about seven times slower, and width-bucketed batches hold little padding.
    """

    def __init__(self, kind: str, features: int, units: int, bidirectional: bool) -> None:
        super().__init__()
        cls = nn.LSTM if kind == "L" else nn.GRU
        self.rnn = cls(features, units, bidirectional=bidirectional)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.rnn(x)[0]
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        out, _ = self.rnn(packed)
        return nn.utils.rnn.pad_packed_sequence(out, total_length=x.shape[0])[0]


class Recognizer(nn.Module):
    """Convolutions → recurrent (and dense) layers along the width → linear CTC output
    (T×N×classes)."""

    def __init__(self, spec: str, classes: int) -> None:
        super().__init__()
        match = _HEADER.match(spec.strip())
        if not match:
            raise SpecError(f"spec must look like '[1,64,0,1 LAYERS…]', got {spec!r}")
        self.spec = spec.strip()
        self.height, channels = int(match[2]), int(match[4])
        self.channels = channels
        if self.height < 1 or channels < 1:
            raise SpecError("spec: height and channels must be positive")
        height, features = self.height, None
        conv: list[nn.Module] = []
        sequence: list[nn.Module] = []
        self.reductions: list[_Reduction | _Margin] = []
        for number, layer in enumerate(match[5].split()):
            if (m := _INPUT.match(layer)) and number == 0:
                conv.append(_InputShift(float(m[1]), int(m[2])))
                self.reductions.append(_Margin(int(m[2])))
            elif m := _CONV.match(layer):
                if features is not None:
                    raise SpecError(f"spec: convolution {layer} after a recurrent layer")
                norm, act, kh, kw, out = m[1], m[2], int(m[3]), int(m[4]), int(m[5])
                sh, sw = int(m[6] or 1), int(m[7] or 1)
                conv.append(
                    nn.Conv2d(channels, out, (kh, kw), (sh, sw), (kh // 2, kw // 2), bias=not norm)
                )
                if norm:
                    conv.append(nn.BatchNorm2d(out))
                conv.append(_ACTIVATIONS[act]())
                height = (height + 2 * (kh // 2) - kh) // sh + 1
                self.reductions.append(_Reduction(kw, sw, kw // 2))
                channels = out
            elif m := _POOL.match(layer):
                if features is not None:
                    raise SpecError(f"spec: pooling {layer} after a recurrent layer")
                same, kh, kw = bool(m[1]), int(m[2]), int(m[3])
                sh, sw = int(m[4] or kh), int(m[5] or kw)
                if same:
                    conv.append(_SameMaxPool((kh, kw), (sh, sw)))
                    height = -(-height // sh)
                else:
                    conv.append(nn.MaxPool2d((kh, kw), (sh, sw)))
                    height = (height - kh) // sh + 1
                self.reductions.append(_Reduction(kw, sw, 0, same))
            elif layer == "Bn":
                if features is not None:
                    raise SpecError("spec: Bn after a recurrent or dense layer")
                conv.append(nn.BatchNorm2d(channels))
            elif m := _DROP.match(layer):
                (sequence if features is not None else conv).append(nn.Dropout(float(m[1] or 0.5)))
            elif m := _RNN.match(layer):
                if features is None:
                    features = channels * height
                bidirectional = m[2] == "b"
                sequence.append(_Recurrent(m[1], features, int(m[3]), bidirectional))
                features = int(m[3]) * (2 if bidirectional else 1)
            elif m := _DENSE.match(layer):
                if features is None:
                    features = channels * height
                sequence.extend([nn.Linear(features, int(m[2])), _ACTIVATIONS[m[1]]()])
                features = int(m[2])
            else:
                raise SpecError(f"spec: unknown layer {layer!r}")
            if height < 1:
                raise SpecError(
                    f"spec: layer {layer} leaves no height (input height {self.height})"
                )
        self.conv = nn.Sequential(*conv)
        self.sequence = nn.ModuleList(sequence)
        self.output = nn.Linear(features if features is not None else channels * height, classes)
        self.min_width = self._min_width()  # the narrowest input with one output frame

    def output_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Output frames of lines ``widths`` pixels wide."""
        for reduce in self.reductions:
            widths = reduce(widths)
        return widths

    def _min_width(self) -> int:
        width = 1
        while int(self.output_lengths(torch.tensor(width))) < 1:
            width += 1
        return width

    def forward(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: N×C×H×W ink in 0…1, ``widths``: N true widths; logits T×N×classes, lengths."""
        features = self.conv(x)
        n, c, h, w = features.shape
        sequence = features.permute(3, 0, 1, 2).reshape(w, n, c * h)
        lengths = self.output_lengths(widths).clamp(1, w)
        for layer in self.sequence:
            sequence = (
                layer(sequence, lengths) if isinstance(layer, _Recurrent) else layer(sequence)
            )
        return self.output(sequence), lengths

    def weighted_layers(self) -> list[nn.Module]:
        """The layers with weights, in spec order (the output layer not among them)."""
        kinds = (nn.Conv2d, nn.BatchNorm2d, nn.Linear, _Recurrent)
        return [m for m in [*self.conv, *self.sequence] if isinstance(m, kinds)]

    def parts(self) -> dict[str, list[nn.Module]]:
        """What ``freeze`` can name."""
        return {"convolutions": [self.conv], "recurrent": list(self.sequence)}
