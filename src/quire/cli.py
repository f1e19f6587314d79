"""The ``quire`` command: one subcommand per stage, each a thin wrapper of a function.

Heavy libraries are imported inside the commands so that ``quire --help`` is fast.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from quire import __version__
from quire.config import BinarizeConfig, build_config, config_options
from quire.errors import QuireError

log = logging.getLogger("quire")

EXIT_FAILED_INPUTS = 1
EXIT_USAGE = 2


def stage(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a command's result into an exit status; user errors become one clear line.

    A command returns a :class:`~quire.batch.BatchResult` (or ``None``); failures of
    single inputs were already reported and give exit status 1; errors of the whole
    call (bad configuration, unusable folder) give status 2.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            result = func(*args, **kwargs)
        except QuireError as exc:
            for line in str(exc).splitlines():
                log.error("%s", line)
            sys.exit(EXIT_USAGE)
        if result is not None:
            log.info("%s", result.summary())
            if not result.ok:
                sys.exit(EXIT_FAILED_INPUTS)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="quire")
@click.option("-v", "--verbose", count=True, help="More output (-vv for debugging).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def cli(verbose: int, quiet: bool) -> None:
    """quire: scans of music and text documents to PageXML, **kern, MusicXML and MIDI.

    Every stage reads and writes files in folders (see docs/formats.md); a stage's
    options can also come from the stage's section of a YAML file (--config).
    """
    from quire.logs import setup_logging

    setup_logging(-1 if quiet else verbose)


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@click.argument("output_dir", metavar="OUTPUT", type=click.Path(file_okay=False, path_type=Path))
@config_options(BinarizeConfig)
@stage
def binarize(input_path: Path, output_dir: Path, config_file: Path | None, **flags: Any) -> Any:
    """Remove the background of scans (Sauvola): RGBA PNGs with transparent background.

    INPUT is an image or a folder of images; OUTPUT receives <stem>.png for each.
    """
    from quire.binarize import binarize as run

    return run(input_path, output_dir, build_config(BinarizeConfig, config_file, flags))


def main() -> None:
    cli(prog_name="quire")
