"""Run one function over many files: progress bar, per-file error isolation, summary."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from quire.errors import InputError

log = logging.getLogger("quire")

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class BatchResult:
    """What a batch did: how many items succeeded, which failed and why, and problems
    with other inputs (rows of a results file …) that did not stop any item."""

    done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    noun: str = "file"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.problems

    def summary(self) -> str:
        total = self.done + len(self.failed)
        text = f"{self.done} of {total} {self.noun}s done, {len(self.failed)} failed"
        return text + (f", {len(self.problems)} other problems" if self.problems else "")


@contextlib.contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar (with ETA) on the terminal; yields the function that advances it
    (which also fits the compute threads to the CPUs now free)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from quire.cpus import refit_threads
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

        def advance() -> None:
            bar.advance(task)
            refit_threads()  # other processes may have taken or freed CPUs meanwhile

        yield advance


def run_batch(
    items: Sequence[T] | Iterable[T],
    process: Callable[[T], R],
    *,
    description: str,
    name: Callable[[T], str] = str,
    noun: str = "file",
    workers: int = 0,
    collect: Callable[[T, R], None] | None = None,
) -> BatchResult:
    """Call ``process`` on every item, showing progress; one bad item never stops the rest.

    With ``workers`` > 1 the items go to that many processes (``process`` must then be
    picklable: a module-level function or a partial of one). ``collect`` receives each
    item's return value, in the items' order either way.

    An :class:`InputError` is reported as its own message; any other exception is
    reported as ``<item>: <type>: <message>`` (with the traceback at debug level).
    """
    items = list(items)
    result = BatchResult(noun=noun)
    with progress(description, len(items)) as advance:
        if workers > 1 and len(items) > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(workers, len(items))) as pool:
                futures = [pool.submit(process, item) for item in items]
                for item, future in zip(items, futures, strict=True):
                    _settle(result, item, name, future.result, collect)
                    advance()
        else:
            for item in items:
                _settle(result, item, name, functools.partial(process, item), collect)
                advance()
    return result


def _settle(
    result: BatchResult,
    item: T,
    name: Callable[[T], str],
    outcome: Callable[[], R],
    collect: Callable[[T, R], None] | None,
) -> None:
    """Record one item's outcome in ``result``: collected when done, reported when not."""
    try:
        value = outcome()
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
        if collect is not None:
            collect(item, value)
