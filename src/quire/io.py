"""File helpers every stage uses: atomic writes, image discovery and reading."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from quire.errors import InputError

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Ctrl-C during the block takes effect as it ends, so a file being written is
    finished rather than torn (an interrupted writer may raise something else, and
    the interrupt would be lost). Only the main thread receives signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        signal.raise_signal(signal.SIGINT)  # handled (or ignored) as it would have been


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success.

    A killed or failing writer never leaves a half-written ``path`` behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o666 & ~umask())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_image(path: str | Path, image: Image.Image, **options: object) -> None:
    """Save a PIL image atomically; the format follows the suffix of ``path``."""
    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(
        path.suffix.lower(), "PNG"
    )
    with atomic_open(path, "wb") as handle:
        image.save(handle, format=fmt, **options)


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name; broken links are listed too,
    so that reading them fails with a message rather than skipping them unsaid."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "not a directory")
    return sorted(
        p
        for p in folder.iterdir()
        if (p.is_file() or p.is_symlink()) and p.suffix.lower() in IMAGE_SUFFIXES
    )


def read_image(
    path: str | Path,
    mode: str = "L",
    max_pixels: int = 200_000_000,
    data: bytes | None = None,
) -> Image.Image:
    """Read an image in PIL ``mode``, or raise :class:`InputError` naming the problem.

    ``data``: the image's bytes, read from an archive member ``path`` names.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    Image.MAX_IMAGE_PIXELS = None  # the limit below is ours, with a clear message
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise InputError(
                    path,
                    f"image is {image.width}x{image.height}, over the limit of {max_pixels} pixels",
                )
            pages = tiff_pages(image)
            if pages > 1:
                raise InputError(
                    path,
                    f"a multi-page TIFF ({pages} pages): quire reads one page a file, so all "
                    f"{pages} are left out; split it first (e.g. tiffsplit)",
                )
            image.load()
            if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                image = eight_bit(image)
            if mode in ("L", "RGB") and (
                image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            ):  # transparent parts (masked snippets, binarized pages) are white paper
                paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
                return Image.alpha_composite(paper, image.convert("RGBA")).convert(mode)
            return image.convert(mode)
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(path, f"broken link to {path.readlink()}") from None
        raise InputError(path, "file not found") from None
    except UnidentifiedImageError:
        raise InputError(path, "not a readable image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(path, f"cannot read image ({exc})") from None


def tiff_pages(image: Image.Image) -> int:
    """The pages of a TIFF (reduced-resolution images, such as thumbnails and pyramid
    levels, are not pages); 1 for other formats."""
    if image.format != "TIFF" or getattr(image, "n_frames", 1) == 1:
        return 1
    pages = 0
    for frame in range(image.n_frames):
        image.seek(frame)
        pages += not image.tag_v2.get(254, 0) & 1  # NewSubfileType: reduced resolution
    image.seek(0)
    return pages


def eight_bit(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float grayscale image as 8 bits, scaled by its real range
    (PIL would clip it at 255, leaving a white page): integers by the bits their
    largest value needs (8, 12 or 16), floats of 0…1 or 0…255, anything else from its
    own darkest to its lightest value."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(image)
    if pixels.dtype.kind in "iu" and pixels.min() >= 0 and pixels.max() < 1 << 16:
        top = next(2**bits - 1 for bits in (8, 12, 16) if pixels.max() < 2**bits)
        scaled = (pixels.astype(np.uint32) * 255 + top // 2) // top
        return Image.fromarray(scaled.astype(np.uint8), "L")
    pixels = pixels.astype(np.float32, copy=False)
    finite = pixels[np.isfinite(pixels)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if low >= 0 and high <= 255:
        low, high = 0.0, 1.0 if high <= 1 else 255.0
    scaled = (np.nan_to_num(pixels, nan=high) - low) * (255 / max(high - low, 1e-12))
    return Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8), "L")


def find_image(images: Path, stem: str, filename: str | None) -> Path:
    """The page image: ``Page@imageFilename`` in ``images``, else ``<stem>.*``."""
    if images.is_file():
        return images
    if filename and (images / Path(filename).name).is_file():
        return images / Path(filename).name
    for suffix in IMAGE_SUFFIXES:
        for candidate in (images / f"{stem}{suffix}", images / f"{stem}{suffix.upper()}"):
            if candidate.is_file():
                return candidate
    raise InputError(images / stem, "no page image of this name")
