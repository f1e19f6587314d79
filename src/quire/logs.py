"""Logging set-up shared by the CLI: one plain line per message on stderr."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@functools.cache
def console() -> Console:
    """The stderr console that log lines and progress bars share."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class _ConsoleHandler(logging.Handler):
    """Prints records through the shared console so progress bars stay intact.

    Lines are never wrapped: a message naming a file stays one greppable line.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            console().print(self.format(record), markup=False, soft_wrap=True)
        except Exception:  # logging must never raise
            self.handleError(record)


def setup_logging(verbosity: int) -> None:
    """Configure the ``quire`` logger: -1 quiet (errors only), 0 info, 1+ debug."""
    level = {-1: logging.ERROR, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = _ConsoleHandler()
    handler.setFormatter(_Formatter())
    logger = logging.getLogger("quire")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text
