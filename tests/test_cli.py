"""The quire command: help everywhere, fast start, configuration precedence and errors."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from quire.cli import cli
from quire.config import SECTIONS, BinarizeConfig

HEAVY = ("numpy", "torch", "cv2", "verovio", "skimage", "lxml", "PIL")


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


def test_help_lists_stages_and_every_command_has_help():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "binarize" in result.output
    for path in commands(cli):
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage:" in result.output


def test_starting_quire_imports_no_heavy_library():
    code = (
        "import sys, quire.cli; quire.cli.cli.main(['--help'], standalone_mode=False);"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("[]"), out


def test_option_help_shows_the_config_class_default():
    result = CliRunner().invoke(cli, ["binarize", "--help"])
    default = BinarizeConfig.model_fields["window"].default
    assert f"[default: {default}]" in result.output


def test_config_file_sets_defaults_and_flags_override(tmp_path, scans):
    from quire.config import build_config

    config = tmp_path / "quire.yaml"
    config.write_text("binarize:\n  window: 31\n  k: 0.3\n")
    built = build_config(BinarizeConfig, config, {"k": 0.1, "window": None})
    assert (built.window, built.k, built.empty_layer) == (31, 0.1, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("binarize:\n  windw: 3\n", "binarize.windw: unknown key"),
        ("binarize:\n  window: many\n", "binarize.window: Input should be a valid integer"),
        ("binarise:\n  window: 3\n", "unknown section 'binarise'"),
        ("binarize: [1, 2]\n", "section 'binarize' must be a mapping"),
        ("binarize:\n  window: [\n", "not valid YAML at line"),
    ],
)
def test_bad_config_gives_one_clear_line_per_problem(tmp_path, scans, text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result = CliRunner().invoke(
        cli, ["binarize", "--config", str(config), str(scans), str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert any(line.startswith(f"error: {config}: ") and expected in line for line in lines)
    assert not (tmp_path / "out").exists()


def test_every_config_section_is_a_command():
    names = {"-".join(path) for path in commands(cli)}
    assert set(SECTIONS) <= names


def test_shipped_example_configs_are_valid():
    from quire.config import build_config, read_config_file
    from tests.conftest import REPO

    for path in sorted((REPO / "configs").glob("*.yaml")):
        for section in read_config_file(path):
            build_config(SECTIONS[section], path, {})


def test_ranges_must_be_in_order(tmp_path):
    config = tmp_path / "ranges.yaml"
    config.write_text("synth-text:\n  lines_min: 5\n  lines_max: 2\n")
    texts = tmp_path / "words.txt"
    texts.write_text("a b c\n")
    result = CliRunner().invoke(
        cli,
        ["synth", "text", str(tmp_path / "out"), "--texts", str(texts), "--config", str(config)],
    )
    assert result.exit_code == 2
    assert f"error: {config}: synth-text: lines_min is larger than lines_max" in result.output
