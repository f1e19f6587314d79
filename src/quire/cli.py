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
from quire.config import (
    BinarizeConfig,
    CutConfig,
    ExportConfig,
    ExtractConfig,
    LanguageConfig,
    LayoutPredictConfig,
    LayoutTrainConfig,
    OrderConfig,
    PseudolabelConfig,
    RecognizePredictConfig,
    RecognizeTrainConfig,
    SynthCorpusConfig,
    SynthMusicConfig,
    SynthTextConfig,
    build_config,
    config_options,
)
from quire.cpus import use_threads
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
        except (OSError, ValueError, RuntimeError) as exc:  # a whole-call problem, one line
            log.error("%s: %s", type(exc).__name__, exc)
            log.debug("traceback", exc_info=True)
            sys.exit(EXIT_USAGE)
        if result is not None:
            log.info("%s", result.summary())
            if not result.ok:
                sys.exit(EXIT_FAILED_INPUTS)

    return wrapper


def _model_option(help_text: str) -> Callable[[Any], Any]:
    """``-m/--model``: a model directory to use."""
    return click.option(
        "-m",
        "--model",
        "model_dir",
        required=True,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help=help_text,
    )


def _model_output(help_text: str) -> Callable[[Any], Any]:
    """``-o/--output``: the model directory a training writes."""
    return click.option(
        "-o",
        "--output",
        "model_dir",
        required=True,
        type=click.Path(file_okay=False, path_type=Path),
        help=help_text,
    )


def _base_model_option(help_text: str) -> Callable[[Any], Any]:
    """``--base-model``: a trained model to fine-tune."""
    return click.option(
        "--base-model",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help=help_text,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="quire")
@click.option("-v", "--verbose", count=True, help="Debugging output.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Compute threads (default: QUIRE_THREADS, OMP_NUM_THREADS, or the CPUs this "
    "process may use: affinity, cgroup quota, SLURM_CPUS_PER_TASK).",
)
def cli(verbose: int, quiet: bool, threads: int | None) -> None:
    """quire: scans of music and text documents to PageXML, **kern, MusicXML and MIDI.

    Every stage reads and writes files in folders (see docs/formats.md); a stage's
    options can also come from the stage's section of a YAML file (--config).
    """
    from quire.logs import setup_logging

    setup_logging(-1 if quiet else verbose)
    _fixed_mmap_threshold()
    use_threads(threads)


def _fixed_mmap_threshold() -> None:
    """Give every allocation over 1 MiB (pages, tiles, batches) its own mapping.

    glibc raises its mmap threshold each time such a block is freed, after which
    page-sized arrays come from the heap, which fragments: a stage's peak memory then
    grew page after page (layout predict: 802 to 943 MiB over 29 pages; 600 MiB flat
    with the fixed threshold). No effect where the C library has no ``mallopt``.
    """
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).mallopt(-3, 1 << 20)  # -3: M_MMAP_THRESHOLD


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


@cli.group()
def synth() -> None:
    """Render synthetic pages with ground truth: music (Verovio) and text (fonts).

    Both write OUTPUT/images/<stem>.png, OUTPUT/page/<stem>.xml (PageXML 2019) and
    OUTPUT/layers/<stem>/<layer>.png (background, staff, symbols, text).
    """


@synth.command("music")
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--kern-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Render every score of this folder (.krn, .musicxml, .mxl, .xml, .mei) "
    "instead of generated music.",
)
@config_options(SynthMusicConfig)
@stage
def synth_music(output: Path, kern_dir: Path | None, config_file: Path | None, **flags: Any) -> Any:
    """Music pages rendered by Verovio from generated or given **kern.

    Also writes OUTPUT/kern/<stem>.krn, the **kern each page shows.
    """
    from quire.synth.music import synth_music as run

    return run(output, build_config(SynthMusicConfig, config_file, flags), kern_dir)


@synth.command("text")
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--texts",
    "texts",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="UTF-8 text file whose words fill the lines (repeat for several).",
)
@config_options(SynthTextConfig)
@stage
def synth_text(
    output: Path, texts: tuple[Path, ...], config_file: Path | None, **flags: Any
) -> Any:
    """Text pages rendered from font files, lines of words from text files."""
    from quire.synth.text import synth_text as run

    return run(output, build_config(SynthTextConfig, config_file, flags), list(texts))


@synth.command("corpus")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@config_options(SynthCorpusConfig)
@stage
def synth_corpus(output: Path, config_file: Path | None, **flags: Any) -> None:
    """Write OUTPUT, a text file of prose for synth text --texts, from word frequencies."""
    from quire.synth.corpus import write_corpus

    words = write_corpus(output, build_config(SynthCorpusConfig, config_file, flags))
    log.info("%s: %d words", output, words)


_RESUME = click.option(
    "--resume", is_flag=True, help="Continue from OUTPUT.checkpoint.pt (kept while training)."
)


@cli.group()
def layout() -> None:
    """Pixel classification: train one network for every layer, predict layers of pages."""


@layout.command("train")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_model_output("Model directory to write.")
@_base_model_option("Fine-tune this layout model (its layers must start --layers).")
@_RESUME
@config_options(LayoutTrainConfig)
@stage
def layout_train(
    inputs: tuple[Path, ...],
    model_dir: Path,
    base_model: Path | None,
    resume: bool,
    config_file: Path | None,
    **flags: Any,
) -> Any:
    """Train on Pixel.js zips (files or folders of them) and quire synth folders."""
    from quire.layout.train import train_layout

    config = build_config(LayoutTrainConfig, config_file, flags)
    return train_layout(list(inputs), model_dir, config, base_model, resume)


@layout.command("predict")
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.argument("work", type=click.Path(file_okay=False, path_type=Path))
@_model_option("Layout model directory.")
@config_options(LayoutPredictConfig)
@stage
def layout_predict(
    images: Path, work: Path, model_dir: Path, config_file: Path | None, **flags: Any
) -> Any:
    """Label every pixel of IMAGES (a folder or an image) into WORK/layers/<stem>/."""
    from quire.layout.predict import predict_layout

    config = build_config(LayoutPredictConfig, config_file, flags)
    return predict_layout(images, work, model_dir, config)


@cli.command()
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.argument("work", type=click.Path(file_okay=False, path_type=Path))
@config_options(ExtractConfig)
@stage
def extract(images: Path, work: Path, config_file: Path | None, **flags: Any) -> Any:
    """Staves, systems, text lines and regions from WORK/layers/<stem>/ to WORK/page/."""
    from quire.extract import extract as run

    return run(images, work, build_config(ExtractConfig, config_file, flags))


@cli.command()
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.argument("work", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--pages",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of the PageXML files (default: WORK/page).",
)
@config_options(CutConfig)
@stage
def cut(
    images: Path, work: Path, pages: Path | None, config_file: Path | None, **flags: Any
) -> Any:
    """Snippets of every line of WORK/page/*.xml into WORK/snippets/, lists into WORK/lists/."""
    from quire.cut import cut as run

    return run(images, work, build_config(CutConfig, config_file, flags), pages)


@cli.command()
@click.argument(
    "list_file", metavar="LIST", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--val-fraction",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1, max_open=True),
    help="Share of lines for validation.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the shuffle.")
@stage
def split(list_file: Path, output: Path, val_fraction: float, seed: int) -> Any:
    """Split a ground-truth LIST into OUTPUT/train.txt and OUTPUT/val.txt, reproducibly."""
    from quire.lists import split_list

    return split_list(list_file, output, val_fraction, seed)


@cli.command()
@click.argument("work", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-r",
    "--results",
    "results",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Results file (default: WORK/results.tsv).",
)
@click.option(
    "-m",
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The recognizer that made the results, named in the pages' provenance.",
)
@stage
def merge(work: Path, results: Path | None, model_dir: Path | None) -> Any:
    """Write recognition results into WORK/page/*.xml (TextEquiv with @conf)."""
    from quire.merge import merge as run

    return run(work, results or work / "results.tsv", model_dir)


@cli.command()
@click.argument("work", type=click.Path(exists=True, file_okay=False, path_type=Path))
@config_options(OrderConfig)
@stage
def order(work: Path, config_file: Path | None, **flags: Any) -> Any:
    """Reading order of the regions, lines and words of WORK/page/*.xml."""
    from quire.order import order as run

    return run(work, build_config(OrderConfig, config_file, flags))


@cli.command()
@click.argument("images", type=click.Path(exists=True, path_type=Path))
@click.argument("work", type=click.Path(exists=True, file_okay=False, path_type=Path))
@config_options(ExportConfig)
@stage
def export(images: Path, work: Path, config_file: Path | None, **flags: Any) -> Any:
    """Pages of WORK/page/ to **kern, MusicXML, MIDI, MEI, text and overlays in WORK/export/."""
    from quire.export import export as run

    return run(images, work, build_config(ExportConfig, config_file, flags))


@cli.command()
@click.argument("work", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--tokens",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Tokens file of the recognizer (results.tokens.tsv): words where it read them.",
)
@stage
def words(work: Path, tokens: Path | None) -> Any:
    """Split the text lines of WORK/page/*.xml into words with coordinates."""
    from quire.words import words as run

    return run(work, tokens)


@cli.command()
@click.argument("work", type=click.Path(exists=True, file_okay=False, path_type=Path))
@config_options(LanguageConfig)
@stage
def language(work: Path, config_file: Path | None, **flags: Any) -> Any:
    """primaryLanguage of the text lines, text regions and pages of WORK/page/*.xml."""
    from quire.language import language as run

    return run(work, build_config(LanguageConfig, config_file, flags))


@cli.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="List to write: path<TAB>weight<TAB>text.",
)
@config_options(PseudolabelConfig)
@stage
def pseudolabel(source: Path, output: Path, config_file: Path | None, **flags: Any) -> Any:
    """Confident predictions of SOURCE (results.tsv, or a work folder) as a training list."""
    from quire.pseudolabel import pseudolabel as run

    return run(source, output, build_config(PseudolabelConfig, config_file, flags))


@cli.group()
def recognize() -> None:
    """Line recognition (CRNN + CTC): staves to music tokens, text lines to characters."""


@recognize.command("train")
@click.argument(
    "lists", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_model_output("Model directory to write (the best model so far, after every epoch).")
@click.option(
    "--validation",
    "validation",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Validation list (repeat for several); default: --val-fraction of the lines.",
)
@_base_model_option("Fine-tune this recognizer (its architecture and, by default, vocabulary).")
@click.option(
    "--replace-output-layer",
    is_flag=True,
    help="With --base-model: a new output layer for the vocabulary of these lists.",
)
@_RESUME
@config_options(RecognizeTrainConfig)
@stage
def recognize_train(
    lists: tuple[Path, ...],
    model_dir: Path,
    validation: tuple[Path, ...],
    base_model: Path | None,
    replace_output_layer: bool,
    resume: bool,
    config_file: Path | None,
    **flags: Any,
) -> Any:
    """Train on LISTS of path<TAB>text lines (or path<TAB>weight<TAB>text)."""
    from quire.recognize.train import train_recognizer

    config = build_config(RecognizeTrainConfig, config_file, flags)
    return train_recognizer(
        list(lists),
        model_dir,
        config,
        list(validation) or None,
        base_model,
        replace_output_layer,
        resume,
    )


@recognize.command("predict")
@click.argument("source", metavar="INPUT", type=click.Path(exists=True, path_type=Path))
@_model_option("Recognizer model directory.")
@click.option(
    "-o",
    "--output",
    default=Path("results.tsv"),
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results file: path<TAB>confidence<TAB>text per line.",
)
@config_options(RecognizePredictConfig)
@stage
def recognize_predict(
    source: Path, model_dir: Path, output: Path, config_file: Path | None, **flags: Any
) -> Any:
    """Recognize the snippets of INPUT: a list (path in the first column) or a folder."""
    from quire.recognize.predict import predict_lines

    config = build_config(RecognizePredictConfig, config_file, flags)
    return predict_lines(source, output, model_dir, config)


@recognize.command("import-loghi")
@click.argument(
    "source", metavar="MODEL_DIR", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.argument("output", metavar="OUT_DIR", type=click.Path(file_okay=False, path_type=Path))
@stage
def recognize_import_loghi(source: Path, output: Path) -> None:
    """Convert the Loghi-HTR model in MODEL_DIR (model.keras, tokenizer.json or charlist.txt,
    config.json) into the quire recognizer OUT_DIR; needs the loghi extra (TensorFlow)."""
    from quire.recognize.loghi import import_loghi

    import_loghi(source, output)


def _comparison(func: Callable[..., Any]) -> Callable[..., Any]:
    """PREDICTED and TRUTH folders, and -o for the report files."""
    func = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write OUTPUT.json and OUTPUT.md.",
    )(func)
    for name in ("truth", "predicted"):
        func = click.argument(name, type=click.Path(exists=True, file_okay=False, path_type=Path))(
            func
        )
    return func


@cli.group()
def evaluate() -> None:
    """Compare predictions with ground truth; reports as JSON and Markdown."""


@evaluate.command("layers")
@_comparison
@click.option("--layer", "layers", multiple=True, help="Layers to score (default: all).")
@stage
def evaluate_layers(
    predicted: Path, truth: Path, output: Path | None, layers: tuple[str, ...]
) -> None:
    """Pixel precision, recall and F1 per layer: PREDICTED/<stem>/ against TRUTH/<stem>/."""
    from quire.evaluate import layer_scores

    report = layer_scores(predicted, truth, list(layers) or None)
    _report(report, output, "Layer scores")


@evaluate.command("staves")
@_comparison
@click.option("--iou", default=0.5, show_default=True, help="Overlap that counts as found.")
@stage
def evaluate_staves(predicted: Path, truth: Path, output: Path | None, iou: float) -> None:
    """Staves found: PREDICTED/*.xml against TRUTH/*.xml by bounding-box IoU."""
    from quire.evaluate import staff_scores

    _report(staff_scores(predicted, truth, iou), output, "Staves found")


@evaluate.command("pages")
@_comparison
@click.option("--iou", default=0.5, show_default=True, help="Overlap that pairs two lines.")
@click.option(
    "--tolerance",
    default=10.0,
    show_default=True,
    help="Pixels a text line's baseline may lie from the true one and still match.",
)
@stage
def evaluate_pages(
    predicted: Path, truth: Path, output: Path | None, iou: float, tolerance: float
) -> None:
    """Staff SER, text CER, text lines found (baseline F1) and page CER of pipeline
    output PREDICTED/*.xml against TRUTH/*.xml."""
    from quire.evaluate import page_scores

    _report(page_scores(predicted, truth, iou, tolerance), output, "Page transcription errors")


@evaluate.command("text")
@click.argument("predicted", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("truth", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write OUTPUT.json and OUTPUT.md.",
)
@click.option(
    "--encoding",
    type=click.Choice(["text", "kern", "bekern", "semantic", "agnostic"]),
    default="text",
    show_default=True,
    help="What the lines hold; its symbols are what SER counts.",
)
@stage
def evaluate_text(predicted: Path, truth: Path, output: Path | None, encoding: str) -> None:
    """CER, SER, WER, LER of PREDICTED (results.tsv) against TRUTH (a list), by snippet."""
    from quire.evaluate import text_scores

    report = text_scores(predicted, truth, encoding)
    _report(report, output, "Transcription errors")
    if report["problems"]:
        sys.exit(EXIT_FAILED_INPUTS)


def _report(report: dict[str, Any], output: Path | None, title: str) -> None:
    """Print ``report`` as JSON; with ``output``, also write OUTPUT.json and OUTPUT.md."""
    import json

    from quire.evaluate import write_report

    click.echo(json.dumps(report, indent=2))
    if output is not None:
        write_report(report, output, title)


def main() -> None:
    cli(prog_name="quire")
