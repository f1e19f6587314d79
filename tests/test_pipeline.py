"""scripts/inference-pipeline.sh end to end with the shipped models, on a generated page."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from quire.evaluate import page_scores
from quire.pagexml import PageDocument
from tests.conftest import REPO, SHARED_DATA, quire, script_environment

SCRIPT = REPO / "scripts" / "inference-pipeline.sh"


def pipeline_command(*args: object) -> tuple[list[str], dict[str, str]]:
    env = script_environment()
    env.pop("SOURCE_DATE_EPOCH", None)
    return [str(SCRIPT), *map(str, args), "--runner", "local"], env


def pipeline(*args: object) -> subprocess.CompletedProcess:
    command, env = pipeline_command(*args)
    return subprocess.run(command, capture_output=True, text=True, env=env)


def killed_in(stage: str, *args: object) -> None:
    """Start the pipeline and kill -9 all of it once ``stage`` has begun."""
    command, env = pipeline_command(*args)
    run = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    log = Path(str(args[1])) / "logs" / f"{stage}.log"
    while not log.exists():
        assert run.poll() is None, f"the pipeline ended before {stage}"
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("pipeline") / "data"
    quire(
        *("synth", "music", data, "--pages", "1", "--kind", "monophonic"),
        *("--max-systems", "3", "--seed", "11", "--title-chance", "0"),
    )
    return data / "images"


def stamp(out: Path) -> str:
    """The PageXML date of the run in ``out``: its clock."""
    epoch = int((out / ".done" / "clock").read_text())
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_inference_pipeline_reads_a_generated_page(images, tmp_path, validate):
    out = tmp_path / "out"
    before = sorted(images.iterdir())
    run = pipeline(images, out)
    assert run.returncode == 0, run.stderr
    xml = next((out / "page").glob("*.xml"))
    truth = PageDocument.read(images.parent / "page" / xml.name)
    count = sum(line.is_staff for line in truth.text_lines())
    assert f"quire: 1 pages, {count} staves," in run.stderr and sorted(images.iterdir()) == before
    assert validate(xml) == []
    doc = PageDocument.read(xml)
    staves = [line for line in doc.text_lines() if line.is_staff]
    assert len(staves) == count and all(line.text and line.conf is not None for line in staves)
    steps = [step["name"] for step in doc.processing_steps()]
    assert steps[:1] == ["extract"] and {"merge", "order", "language"} <= set(steps)
    assert {step["date"] for step in doc.processing_steps()[1:]} == {stamp(out)}
    export = out / "export"
    for suffix in (".krn", ".mid", ".musicxml", ".mei"):
        assert (export / f"{xml.stem}{suffix}").stat().st_size > 0
    assert (export / "overlays" / f"{xml.stem}.png").exists() and (export / "index.html").exists()
    assert not any((out / name).exists() for name in ("layers", "snippets", "lists"))

    bookkeeping = {"clock", "work-removed", "finished"}
    done = sum(p.name not in bookkeeping for p in (out / ".done").iterdir())  # stages
    page = xml.read_bytes()
    again = pipeline(images, out)
    assert again.returncode == 0 and again.stderr.count("done before, skipped") == done
    assert xml.read_bytes() == page
    redo = pipeline(images, out, "--from", "order")
    assert redo.returncode == 0 and redo.stderr.count("done before, skipped") == done - 4
    for args, message in [
        (("--from", "nowhere"), "--from: no stage 'nowhere'"),
        (("--from", "merge-staves"), "--from merge-staves needs the work of the run"),
        (("--staff-model", tmp_path), "model.json: no such file (not a model folder)"),
    ]:
        bad = pipeline(images, out, *args)
        assert bad.returncode == 2 and message in bad.stderr


@pytest.mark.parametrize("stage", ["cut", "merge-staves"])
def test_a_killed_run_resumed_writes_the_same_pagexml(images, tmp_path, stage):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    assert pipeline(images, whole, "--keep-work").returncode == 0
    killed_in(stage, images, broken, "--keep-work")
    assert not (broken / ".done" / stage).exists()
    refused = pipeline(images, broken)
    assert refused.returncode == 2 and "--resume goes on with it" in refused.stderr
    resumed = pipeline(images, broken, "--resume", "--keep-work")
    assert resumed.returncode == 0, resumed.stderr
    name = next((whole / "page").glob("*.xml")).name
    expected = (whole / "page" / name).read_text().replace(stamp(whole), stamp(broken))
    assert (broken / "page" / name).read_text() == expected
    # every in-place stage once more over its own output: nothing changes
    again = pipeline(images, broken, "--resume", "--from", "merge-staves")
    assert again.returncode == 0, again.stderr
    assert (broken / "page" / name).read_text() == expected


def run_script(name: str, *args: object) -> subprocess.CompletedProcess:
    env = script_environment()
    command = [str(REPO / "scripts" / name), *map(str, args), "--runner", "local"]
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    assert run.returncode == 0, f"{name}: {run.stderr}"
    return run


TINY = """
synth-music: {pages: 3, seed: 5, kind: monophonic, encoding: bekern, max_systems: 2,
              title_chance: 0, lyrics_chance: 0}
layout-train: {steps: 2, validate_every: 2, batch_size: 2, patch: 256}
recognize-train: {epochs: 1, batch_size: 4, learning_rate: 0.00001, augment: false}
"""


def test_train_data_training_inference_and_pseudolabels(tmp_path, request):
    """create-train-data, train-pipeline (fine-tuning the shipped models), inference,
    pseudolabel-pipeline: the scripts chained as a user runs them."""
    (config := tmp_path / "tiny.yaml").write_text(TINY)
    data, lines, models = tmp_path / "data", tmp_path / "lines", tmp_path / "models"
    run_script("generate-synthetic-data.sh", data, "--config", config)
    music = data / "music"
    run_script(
        *("create-train-data.sh", music / "images", lines, "--pages", music / "page"),
        *("--kind", "staves", "--val-fraction", "0.3"),
    )
    assert (lines / "train.txt").read_text() and (lines / "val.txt").read_text()
    resplit = lines.with_name("resplit")  # a second set: --train-data repeats
    run_script(
        *("create-train-data.sh", music / "images", resplit, "--pages", music / "page"),
        *("--kind", "staves", "--val-fraction", "0.3", "--seed", "1"),
    )
    shipped = REPO / "models"
    trained = run_script(
        *("train-pipeline.sh", models, "--config", config, "--encoding", "bekern"),
        *("--layout-data", music, "--layout-base-model", shipped / "layout-default"),
        *("--train-data", lines, "--train-data", resplit),
        *("--base-model", shipped / "staff-default", "--recognizer-name", "staff"),
    )
    assert "quire: layout-train-layout done" in trained.stderr
    meta = json.loads((models / "staff" / "model.json").read_text())
    sets = (lines / "train.txt", resplit / "train.txt")
    assert meta["training"]["train_lines"] == sum(len(t.read_text().splitlines()) for t in sets)

    out = tmp_path / "out"
    first = sorted((music / "images").iterdir())[0].stem
    (music / "images" / "page").mkdir()
    (music / "images" / "page" / f"{first}.xml").write_text("Loghi's own page")
    run_script(
        *("inference-pipeline.sh", music / "images", out, "--text-model", "none"),
        *("--layout-model", models / "layout", "--staff-model", models / "staff"),
        "--loghi-layout",
    )
    beside = music / "images" / "page"  # --loghi-layout: PageXML next to the images too
    assert (beside / f"{first}.xml.orig").read_text() == "Loghi's own page"
    written = sorted(p.name for p in beside.glob("*.xml"))
    assert written == sorted(p.name for p in (out / "page").glob("*.xml")) and len(written) == 3
    assert all((beside / n).read_bytes() == (out / "page" / n).read_bytes() for n in written)
    for xml in (out / "page").glob("*.xml"):
        PageDocument.read(xml)
        if SHARED_DATA.is_dir():  # the official schema, when the reference data is there
            assert request.getfixturevalue("validate")(xml) == []
        assert (out / "export" / f"{xml.stem}.krn").stat().st_size > 0
    report = page_scores(out / "page", music / "page")
    assert report["pages"] == 3 and report["staves"]["lines"] >= 3
    assert report["staves"]["ser"] < 0.8  # read as music, not noise

    pseudo = tmp_path / "pseudo"
    run_script(
        *("pseudolabel-pipeline.sh", music / "images", pseudo, "--min-confidence", "0"),
        *("--staff-model", models / "staff", "--kind", "staves", "--val-fraction", "0.3"),
    )
    rows = (pseudo / "train-data" / "train.txt").read_text().splitlines()
    assert rows and all(0 <= float(row.split("\t")[1]) <= 1 for row in rows)
