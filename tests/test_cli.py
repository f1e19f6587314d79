"""The quire command: help everywhere, fast start, configuration precedence and errors."""

from __future__ import annotations

import os
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


def test_cgroup_quotas_of_both_versions_are_read(tmp_path):
    from quire.cpus import cgroup_cpus

    membership = tmp_path / "cgroup"
    membership.write_text("0::/job/step\n")
    for folder, limit in (("job", "150000 100000"), ("job/step", "max 100000")):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "cpu.max").write_text(f"{limit}\n")
    assert cgroup_cpus(tmp_path, membership) == 1  # the parent's 1.5 CPUs: one whole
    membership.write_text("4:cpu,cpuacct:/slurm/job\n")
    group = tmp_path / "cpu,cpuacct" / "slurm" / "job"
    group.mkdir(parents=True)
    (group / "cpu.cfs_period_us").write_text("100000\n")
    (group / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpus(tmp_path, membership) is None
    (group / "cpu.cfs_quota_us").write_text("100000\n")
    assert cgroup_cpus(tmp_path, membership) == 1


def test_threads_follow_affinity_slurm_and_the_threads_option(monkeypatch):
    from quire.cpus import usable_cpus

    pinned = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))});"
    check = f"{pinned} from quire.cpus import usable_cpus; print(usable_cpus())"
    assert (
        subprocess.run(
            [sys.executable, "-c", check], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "1"
    )
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert usable_cpus() == 1
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    monkeypatch.delenv("QUIRE_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    run = (
        "import os, torch; from quire.cli import cli; from quire.cpus import fit_threads; "
        "cli.main(['--threads', '1', 'split', '--help'], standalone_mode=False); "
        "print(os.environ['OMP_NUM_THREADS'], fit_threads(), torch.get_num_threads())"
    )
    out = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["1", "1", "1"]


def test_compute_threads_leave_out_the_cpus_other_processes_hold(monkeypatch):
    import torch

    from quire import cpus

    monkeypatch.delenv("QUIRE_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 4)
    before = torch.get_num_threads()
    try:
        for idle, threads in ((4.0, 4), (3.1, 3), (1.0, 1), (0.2, 1), (None, 4)):
            monkeypatch.setattr(cpus, "idle_cpus", lambda idle=idle: idle)
            assert cpus.fit_threads(every=0) == threads == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    real = cpus.idle_cpus(0.05)
    assert real is None or 0 <= real <= len(os.sched_getaffinity(0)) + 0.5


def test_threads_follow_other_processes_as_long_work_goes_on(monkeypatch):
    import torch

    from quire import cpus

    monkeypatch.delenv("QUIRE_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 4)
    monkeypatch.setattr(cpus, "_last_look", None)
    looks = [{str(n): (0, 0) for n in range(4)}]  # idle and all ticks of four CPUs

    def ticks() -> dict:
        idle = 100 if len(looks) > 3 else 0  # other processes hold every CPU, then end
        looks.append({cpu: (i + idle, total + 100) for cpu, (i, total) in looks[-1].items()})
        return looks[-1]

    monkeypatch.setattr(cpus, "cpu_ticks", ticks)
    before = torch.get_num_threads()
    try:
        counts = []
        for _ in range(6):
            cpus.refit_threads(every=0)
            counts.append(torch.get_num_threads())
        assert counts[1:3] == [1, 1] and counts[-1] == 4  # others busy, then gone
    finally:
        torch.set_num_threads(before)
