"""Run one function over many files: progress bar, per-file error isolation, summary."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from quire.errors import InputError

log = logging.getLogger("quire")

T = TypeVar("T")


@dataclass
class BatchResult:
    """What a batch did: how many items succeeded and which failed, with why."""

    done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    noun: str = "file"

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        total = self.done + len(self.failed)
        return f"{self.done} of {total} {self.noun}s done, {len(self.failed)} failed"


@contextlib.contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar (with ETA) on the terminal; yields the function that advances it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from quire.logs import console

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console(),
        transient=True,
        disable=not log.isEnabledFor(logging.INFO),
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


def run_batch(
    items: Sequence[T] | Iterable[T],
    process: Callable[[T], object],
    *,
    description: str,
    name: Callable[[T], str] = str,
    noun: str = "file",
) -> BatchResult:
    """Call ``process`` on every item, showing progress; one bad item never stops the rest.

    An :class:`InputError` is reported as its own message; any other exception is
    reported as ``<item>: <type>: <message>`` (with the traceback at debug level).
    """
    items = list(items)
    result = BatchResult(noun=noun)
    with progress(description, len(items)) as advance:
        for item in items:
            try:
                process(item)
            except InputError as exc:
                result.failed.append((name(item), str(exc)))
                log.error("%s", exc)
            except Exception as exc:  # one bad file must not stop the batch
                message = f"{name(item)}: {type(exc).__name__}: {exc}"
                result.failed.append((name(item), message))
                log.error("%s", message)
                log.debug("traceback", exc_info=True)
            else:
                result.done += 1
            advance()
    return result
