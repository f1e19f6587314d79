"""The layout network: a small UNet that labels every pixel with one of N layers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from quire.models import ink

if TYPE_CHECKING:
    import numpy as np


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return nn.Identity()


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=norm == "none"),
            _norm(norm, cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=norm == "none"),
            _norm(norm, cout),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """UNet of ``depth`` poolings; channels ``width`` × 2^level; input padded to 2^depth."""

    def __init__(
        self, classes: int, depth: int = 3, width: int = 16, norm: str = "batch", channels: int = 1
    ) -> None:
        super().__init__()
        self.depth = depth
        widths = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList(
            [
                _Block(channels if i == 0 else widths[i - 1], widths[i], norm)
                for i in range(depth + 1)
            ]
        )
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth)]
        )
        self.merge = nn.ModuleList([_Block(2 * widths[i], widths[i], norm) for i in range(depth)])
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = -height % multiple, -width % multiple
        x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < self.depth:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for i in reversed(range(self.depth)):
            x = self.merge[i](torch.cat([self.up[i](x), skips[i]], dim=1))
        return self.head(x)[..., :height, :width]


class LayoutNet(nn.Module):
    """The UNet at working resolution ``scale``, its logits brought back to page size and
    refined by two full-resolution convolutions (``refine`` channels between them) that
    also see the page itself, so that thin strokes (staff lines) keep their
    full-resolution position and thickness."""

    def __init__(
        self,
        classes: int,
        depth: int = 4,
        width: int = 8,
        norm: str = "batch",
        scale: float = 0.5,
        refine: int = 8,
    ) -> None:
        super().__init__()
        self.architecture = {
            "name": "unet",
            "depth": depth,
            "width": width,
            "norm": norm,
            "scale": scale,
            "refine": refine,
        }
        self.scale = scale
        self.unet = UNet(classes, depth, width, norm)
        self.refine = nn.Sequential(
            nn.Conv2d(classes + 1, refine, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(refine, classes, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: N×1×H×W ink in 0…1 (1 = black); returns N×classes×H×W logits."""
        small = (
            nn.functional.interpolate(x, scale_factor=self.scale, mode="area")
            if self.scale < 1
            else x
        )
        logits = self.unet(small)
        if self.scale < 1:
            logits = nn.functional.interpolate(
                logits, size=x.shape[-2:], mode="bilinear", align_corners=False
            )
        return logits + self.refine(torch.cat([logits, x], dim=1))


def layout_net(classes: int, architecture: dict) -> LayoutNet:
    """The network of ``classes`` layers that a model.json's ``architecture`` describes; a
    ``ValueError`` for a working resolution that is no number from 0 to 1."""
    keys = ("depth", "width", "norm", "scale", "refine")
    scale = architecture["scale"]
    if not isinstance(scale, int | float) or not 0 < scale <= 1:
        raise ValueError(f"scale {scale!r} is not a number from 0 to 1")
    return LayoutNet(classes, *(architecture[key] for key in keys))


def to_input(gray: np.ndarray) -> torch.Tensor:
    """A grayscale page (uint8) as network input: 1×1×H×W ink, 1 = black."""
    return ink(gray)[None, None]
