"""quire cut, recognize train / predict, evaluate text: real snippets, tiny real training."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from quire.cli import cli
from quire.evaluate import error_rates, feature_recall
from quire.music.encodings import encode
from quire.recognize import decode
from quire.recognize.network import PRESETS, Recognizer, SpecError
from quire.recognize.vocabulary import Vocabulary, join, symbols

TINY = "[1,16,0,1 Cbr3,3,16 Mp2,1 Cbr3,3,32 Lbx48]"
WORDS = "abc cab bca"


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> Path:
    """Text pages rendered by quire synth text, cut into line snippets."""
    work = tmp_path_factory.mktemp("lines")
    (work / "words.txt").write_text(WORDS + "\n")
    run(
        *("synth", "text", str(work), "--texts", str(work / "words.txt"), "--pages", "2"),
        *("--lines-min", "4", "--lines-max", "4", "--words-min", "1", "--words-max", "1"),
        *("--dpi", "100", "--seed", "1", "--bold-chance", "0", "--italic-chance", "0"),
    )
    run("cut", str(work / "images"), str(work))
    return work


@pytest.fixture(scope="module")
def trained(lines: Path, tmp_path_factory) -> Path:
    """A tiny model trained to overfit the eight lines."""
    model = tmp_path_factory.mktemp("model") / "tiny"
    run(*_train_args(lines, model, epochs=60))
    return model


def _train_args(lines: Path, model: Path, epochs: int, *extra: str) -> list[str]:
    return [
        *("recognize", "train", str(lines / "lists" / "lines-gt.txt"), "-o", str(model)),
        *("--architecture", TINY, "--epochs", str(epochs), "--batch-size", "4"),
        *("--no-augment", "--val-fraction", "0", "--learning-rate", "0.01"),
        *("--patience", "1000", "--seed", "2", *extra),
    ]


def test_cut_writes_level_masked_snippets_and_lists(lines):
    listed = (lines / "lists" / "lines.txt").read_text().splitlines()
    truth = (lines / "lists" / "lines-gt.txt").read_text().splitlines()
    assert len(listed) == len(truth) == 8
    assert (lines / "lists" / "staves.txt").read_text() == ""
    for row in truth:
        path, text = row.split("\t")
        assert text in WORDS.split()
        snippet = np.asarray(Image.open(lines / "lists" / path))
        assert snippet.ndim == 2 and snippet.shape[0] >= 8
        assert snippet.min() < 100 and (snippet[0] == 255).mean() > 0.5  # ink, paper border


def test_cut_reports_a_page_without_image_and_goes_on(lines, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(lines / "page", work / "page")
    images = tmp_path / "images"
    shutil.copytree(lines / "images", images)
    missing = sorted(images.iterdir())[0]
    missing.unlink()
    (work / "page" / "broken.xml").write_text("<PcGts>")
    result = CliRunner().invoke(cli, ["cut", str(images), str(work)])
    assert result.exit_code == 1, result.output
    assert f"{images / missing.stem}: no page image of this name" in result.output
    assert "broken.xml" in result.output
    assert len((work / "lists" / "lines.txt").read_text().splitlines()) == 4  # the other page


def test_cut_levels_a_skewed_line():
    from quire.cut import cut_line
    from quire.geometry import level_angle

    page = np.full((200, 400), 255, np.uint8)
    import cv2

    cv2.line(page, (50, 100), (350, 130), 0, 3)  # falls 30 px over 300
    baseline = np.array([(50, 100), (350, 130)], float)
    polygon = np.array([(40, 80), (360, 80), (360, 150), (40, 150)], float)
    angle = level_angle(baseline)
    assert angle == pytest.approx(np.degrees(np.arctan(0.1)))
    snippet, _ = cut_line(page, polygon, angle)
    rows = np.nonzero((snippet < 128).sum(1) > 50)[0]
    assert len(rows) and np.ptp(rows) <= 4  # the line is level: ink in a few rows only


def test_a_level_line_is_cut_to_its_polygon_and_a_pixel_around():
    from quire.cut import cut_line
    from quire.geometry import level_angle

    page = np.full((2000, 2500), 255, np.uint8)
    baseline = np.array([(187, 1691), (1200, 1691), (2306, 1691)], float)
    assert level_angle(baseline) == 0.0  # exactly: no solver noise
    polygon = np.array([(187, 1541), (2306, 1541), (2306, 1731), (187, 1731)], float)
    for angle in (0.0, 1e-12):  # rounding noise of a rotation moves no edge
        snippet, inside = cut_line(page, polygon, angle)
        assert snippet.shape == inside.shape == (192, 2121)  # and a pixel around


def test_vocabulary_symbols_round_trip():
    assert symbols("Æsop cafe\u0301", "text") == list("Æsop café")  # NFC composes
    bekern = "*clefG2 [·4·c·# 8·d·L 4·d·] = 2·f <s> 2·a =="
    tokens = symbols(bekern, "bekern")
    assert tokens[:9] == ["*clefG2", "[", "4", "c", "#", "8", "d", "L", "4"]
    assert join(tokens, "bekern") == bekern  # pieces join again without the joiner
    vocabulary = Vocabulary.from_texts([bekern], "bekern", "NFC")
    assert vocabulary.tokens[:2] == ("2", "4") and vocabulary.size == len(set(tokens)) + 1
    known, unknown = vocabulary.encode("4·e ===")
    assert vocabulary.decode(known) == ["4"] and unknown == ["e", "==="]
    # accidentals as printed: the key's flat is not a symbol, the naturals are;
    # the key signature is one symbol per engraved accidental
    flats = "*k[b-e-] 4·e·- 4·e·n 4·e·- = 4·b·- 4·b"
    assert symbols(flats, "bekern") == ["b-", "e-", *"4e4en4e-", "=", *"4b4bn"]
    assert join(symbols(flats, "bekern"), "bekern") == flats + "·n"  # a natural spelt out
    assert symbols("*k[] 4c# *k[f#c#]", "kern") == ["*k[]", "4c#", "f#", "c#"]
    assert join(["*k[b-]", "4e-"], "kern") == "*k[b-] 4e-"  # whole keys of older models
    # a misread note without its pitch (or a lone duration) is left out of the text
    assert join([*"4c", "16", "n", "J", "=", "1", "=="], "bekern") == "4·c = =="
    assert Vocabulary.from_json(json.loads(json.dumps(vocabulary.to_json()))) == vocabulary


def test_music_models_name_notes_by_their_place_on_the_staff():
    # the same place on the staff is the same symbol whatever the clef: the bass
    # clef's top line (A) and the alto clef's middle line (c) read as a G2 staff's
    bass = "*clefF4 *k[b-e-a-] 4·A·- 8·B·- = 2·C·# *clefC3 4·c 4·r =="
    tokens = symbols(bass, "bekern", positions=True)
    assert tokens[:9] == ["*clefF4", "b-", "e-", "a-", "4", "ff", "8", "gg", "="]
    assert tokens[9:] == ["2", "a", "#", "*clefC3", "4", "b", "4", "r", "=="]
    assert join(tokens, "bekern", positions=True) == bass
    vocabulary = Vocabulary.from_texts([bass], "bekern", "NFC")
    assert vocabulary.positions and vocabulary.text(vocabulary.encode(bass)[0]) == bass
    # a vocabulary saved before places were read decodes notes as sounding
    old = {key: value for key, value in vocabulary.to_json().items() if key != "positions"}
    assert not Vocabulary.from_json(old).positions
    assert join(["*clefF4", "4A"], "kern") == "*clefF4 4A"


def test_bekern_models_read_a_tie_where_it_is_engraved():
    # a tie's arc starts right of its note head: its [ is read after the note's pieces
    tied = "*clefG2 [·4·c·# 8·d·L = [·8·d·J 4·d·] =="
    tokens = symbols(tied, "bekern", openers_last=True)
    assert tokens == ["*clefG2", *"4c#[", *"8dL", "=", *"8dJ[", "4", "d", "]", "=="]
    assert join(tokens, "bekern", openers_last=True) == tied
    assert join(["[", "4", "c", "=", "4", "c"], "bekern", openers_last=True) == "[·4·c = 4·c"
    vocabulary = Vocabulary.from_texts([tied], "bekern", "NFC")
    assert vocabulary.openers_last and vocabulary.text(vocabulary.encode(tied)[0]) == tied
    # kern reads whole tokens; a vocabulary saved before reads openers first
    assert not Vocabulary.from_texts([tied.replace("·", "")], "kern", "NFC").openers_last
    old = {key: value for key, value in vocabulary.to_json().items() if key != "openers_last"}
    assert not Vocabulary.from_json(old).openers_last


def test_lists_take_weights_and_resolve_paths(tmp_path):
    from quire.lists import read_list

    (tmp_path / "lists").mkdir()
    listing = tmp_path / "lists" / "train.txt"
    listing.write_text("../a.png\tsome text\n/abs/b.png\t0.5\tweighted\tline\n\n")
    entries, problems = read_list(listing)
    assert not problems
    assert [(e.path, e.weight, e.text) for e in entries] == [
        (tmp_path / "a.png", 1.0, "some text"),
        (Path("/abs/b.png"), 0.5, "weighted\tline"),
    ]


def _peaky(path: list[int], classes: int = 4) -> np.ndarray:
    logp = np.full((len(path), classes), np.log(0.02))
    logp[np.arange(len(path)), path] = np.log(0.94)
    return logp


def test_greedy_beam_and_alignment():
    logp = _peaky([0, 1, 1, 0, 1, 2, 2, 0, 3])
    assert decode.greedy(logp) == [1, 1, 2, 3]
    assert decode.beam(logp, 5) == [1, 1, 2, 3]
    assert list(decode.align(logp, [1, 1, 2, 3])) == [-1, 0, 0, -1, 1, 2, 2, -1, 3]
    line, per_symbol = decode.confidences(logp, [1, 1, 2, 3])
    assert line == pytest.approx(0.94) and per_symbol == pytest.approx([0.94] * 4)
    assert decode.confidences(_peaky([0, 0]), [])[0] == pytest.approx(0.94)
    long = [1, 2, 3] * 60  # more states than a small integer type holds
    assert len(decode.confidences(_peaky([c for s in long for c in (s, 0)]), long)[1]) == 180
    # beam search sums the paths of a labelling: blank is each frame's best, but the
    # three paths of "1" (1 1, 1 _, _ 1) together are likelier than "" (_ _)
    spread = np.log(np.array([[0.4, 0.35, 0.25], [0.4, 0.35, 0.25]]))
    assert decode.greedy(spread) == [] and decode.beam(spread, 3) == [1]


def test_greedy_alignment_is_the_viterbi_path():
    rng = np.random.default_rng(3)
    for _ in range(20):
        frames = rng.normal(size=(60, 6))
        frames[np.arange(60), rng.integers(0, 6, 60)] += rng.uniform(0, 4, 60)
        logp = frames - np.logaddexp.reduce(frames, axis=1, keepdims=True)
        labels, path = decode.greedy_aligned(logp)
        assert labels == decode.greedy(logp)
        assert list(path) == list(decode.align(logp, labels))
        spans = decode.spans(path, len(labels))
        assert all(a < b for a, b in spans) and spans == sorted(spans)


def test_specs_and_presets():
    import torch

    default, primus = Recognizer(PRESETS["default"], 10), Recognizer(PRESETS["primus"], 10)
    assert (default.height, primus.height) == (64, 128)
    assert int(default.output_lengths(torch.tensor(640))) == 320
    assert int(primus.output_lengths(torch.tensor(1280))) == 80
    assert int(Recognizer(PRESETS["text"], 10).output_lengths(torch.tensor(640))) == 160
    logits, lengths = default(torch.zeros(2, 1, 64, 100), torch.tensor([100, 60]))
    assert logits.shape == (50, 2, 10) and lengths.tolist() == [50, 30]
    for bad, where in [("[1,16,0,1 Cr3,3]", "unknown layer"), ("Cr3,3,8", "must look like")]:
        with pytest.raises(SpecError, match=where):
            Recognizer(bad, 5)
    with pytest.raises(SpecError, match="leaves no height"):
        Recognizer("[1,4,0,1 Mp2,2 Mp2,2 Mp2,2]", 5)


def test_prediction_batches_keep_under_the_column_budget():
    from quire.recognize.data import width_batches

    widths = [10, 50, 20, 400, 30, 25]
    batches = list(width_batches(widths, 4, max_columns=100))
    assert batches == [[0, 2, 5], [4, 1], [3]]  # a fourth line of 30 would make 120 columns
    assert sorted(i for batch in batches for i in batch) == list(range(len(widths)))
    assert list(width_batches(widths, 4)) == [[0, 2, 5, 4], [1, 3]]


def test_error_rates_definitions():
    report = error_rates([("abd ef", "abc ef"), ("x", "x")], "text")
    assert report["cer"] == pytest.approx(1 / 7) and report["ser"] == report["cer"]
    assert report["wer"] == pytest.approx(1 / 3) and report["ler"] == pytest.approx(0.5)
    music = error_rates([("4·c =", "4·d =")], "bekern")
    assert music["ser"] == pytest.approx(1 / 3) and music["wer"] == pytest.approx(1 / 2)


def test_feature_recall_names_the_classes_read_and_the_weakest():
    true = "*clefF4 *met(c) *harm:D:7 12GL 12A 12BJ 4C 8qE 2E; = 1r = 1r =:|! 4AAA 2.c(' =="
    read = "*clefF4 *M4/4 *harm:D:7 8GL 8A 8BJ 4C 2E; = 1r = 1r =:|! 4AAA 2.c(' =="
    pairs = [(read, true)] * 5
    recall = feature_recall(
        [(encode(a, "bekern"), encode(b, "bekern")) for a, b in pairs], "bekern"
    )
    classes = recall["classes"]
    assert classes["tuplets"] == {"true": 15, "read": 0, "recall": 0.0}
    assert classes["C meters"]["recall"] == 0.0 and classes["grace notes"]["recall"] == 0.0
    assert classes["ledger-line notes"] == {"true": 10, "read": 10, "recall": 1.0}  # AAA and c
    assert classes["whole-measure rests"]["recall"] == 1.0
    assert classes["chord symbols"]["recall"] == classes["slurs"]["recall"] == 1.0
    assert classes["repeat and double barlines"]["true"] == 5
    assert recall["weakest"] == "tuplets"


def test_tiny_model_overfits_and_round_trips(trained, lines, tmp_path):
    meta = json.loads((trained / "model.json").read_text())
    assert meta["kind"] == "recognizer" and meta["architecture"]["spec"] == TINY
    assert set(meta["vocabulary"]["tokens"]) == set("abc")
    assert meta["metrics"]["validation"]["ser"] <= 0.1
    results = tmp_path / "results.tsv"
    listed = str(lines / "lists" / "lines.txt")
    run("recognize", "predict", listed, "-m", str(trained), "-o", str(results))
    rows = [row.split("\t") for row in results.read_text().splitlines()]
    assert len(rows) == 8 and all(0 < float(conf) <= 1 for _, conf, _ in rows)
    report = tmp_path / "report"
    truth = str(lines / "lists" / "lines-gt.txt")
    out = run("evaluate", "text", str(results), truth, "-o", str(report))
    assert json.loads(out)["cer"] <= 0.1
    assert "cer" in json.loads(report.with_suffix(".json").read_text())
    # a folder of snippets, beam decoding, one confidence per symbol: the same texts
    beam = tmp_path / "beam.tsv"
    run(
        *("recognize", "predict", str(lines / "snippets"), "-m", str(trained), "-o", str(beam)),
        *("--decoder", "beam", "--token-confidences"),
    )
    texts = {Path(p).name: t for p, _, t in (r.split("\t") for r in beam.read_text().splitlines())}
    truth_texts = {
        Path(r.split("\t")[0]).name: r.split("\t")[1] for r in Path(truth).read_text().splitlines()
    }
    pairs = [(texts[name], text) for name, text in truth_texts.items()]
    assert error_rates(pairs)["cer"] <= 0.1
    per_symbol = beam.with_suffix(".tokens.tsv").read_text().splitlines()
    for row in per_symbol:
        path, confidences, spans = row.split("\t")
        assert len(confidences.split()) == len(spans.split()) == len(texts[Path(path).name])
        starts = [float(span.split(":")[0]) for span in spans.split()]
        assert starts == sorted(starts) and starts[0] >= 0 and starts[-1] < 1


def test_resume_continues_from_the_saved_step(lines, tmp_path):
    model = tmp_path / "m"
    run(*_train_args(lines, model, epochs=2))
    checkpoint = model.with_name("m.checkpoint.pt")
    assert torch.load(checkpoint, weights_only=True)["state"]["epoch"] == 2
    run(*_train_args(lines, model, 3, "--resume"))
    state = torch.load(checkpoint, weights_only=True)["state"]
    assert state["epoch"] == 3 and state["step"] == 3 * 2
    out = run(*_train_args(lines, tmp_path / "none", 1, "--resume"), code=2)
    assert "no checkpoint to resume from" in out


def test_fine_tuning_needs_a_matching_vocabulary(trained, lines, tmp_path):
    other = tmp_path / "other.txt"
    rows = (lines / "lists" / "lines-gt.txt").read_text().splitlines()
    other.write_text("".join(f"{lines / 'lists' / r.split(chr(9))[0]}\tabcd\n" for r in rows))
    args = ["recognize", "train", str(other), "-o", str(tmp_path / "ft"), "--epochs", "1"]
    out = run(*args, "--base-model", str(trained), "--val-fraction", "0", code=2)
    assert "--replace-output-layer" in out and "'d'" in out
    base = ("--base-model", str(trained), "--val-fraction", "0")
    run(*args, *base, "--replace-output-layer", "--freeze", "convolutions")
    meta = json.loads((tmp_path / "ft" / "model.json").read_text())
    assert set(meta["vocabulary"]["tokens"]) == set("abcd")
    assert meta["training"]["base_model"] == str(trained)
    base = json.loads((trained / "model.json").read_text())
    assert meta["training"]["base_training"] == base["training"]
    assert meta["training"]["base_metrics"] == base["metrics"]


def test_bad_lines_are_reported_and_skipped(lines, tmp_path):
    good = (lines / "lists" / "lines-gt.txt").read_text().splitlines()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    listing = tmp_path / "list.txt"
    rows = [f"{lines / 'lists' / r.split(chr(9))[0]}\t{r.split(chr(9))[1]}" for r in good]
    first = rows[0].split("\t")[0]
    listing.write_text("\n".join([*rows, f"{broken}\tabc", f"{first}\t ", "no-tab"]) + "\n")
    before = broken.read_bytes()
    result = CliRunner().invoke(
        cli,
        [
            *("recognize", "train", str(listing), "-o", str(tmp_path / "m")),
            *("--architecture", TINY, "--epochs", "1", "--val-fraction", "0"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert f"{broken}: not a readable image" in result.output
    assert f"{listing}:{len(rows) + 2}: empty transcription" in result.output
    assert f"{listing}:{len(rows) + 3}: no transcription" in result.output
    assert broken.read_bytes() == before and (tmp_path / "m" / "model.json").exists()
    # prediction: the unreadable snippet fails alone
    out = tmp_path / "r.tsv"
    result = CliRunner().invoke(
        cli, ["recognize", "predict", str(listing), "-m", str(tmp_path / "m"), "-o", str(out)]
    )
    assert result.exit_code == 1 and f"{broken}: not a readable image" in result.output
    assert len(out.read_text().splitlines()) == len(rows) + 1


def test_ctrl_c_saves_a_checkpoint(lines, tmp_path):
    import functools
    import signal
    import time

    model = tmp_path / "m"
    command = ["quire", *_train_args(lines, model, 100000)]
    # a shell's background job starts with SIGINT ignored, and so would the trainer
    restore = functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL)
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    deadline = time.monotonic() + 120
    while not (model / "model.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted: state saved to" in err and "--resume" in err
    assert torch.load(model.with_name("m.checkpoint.pt"), weights_only=True)["state"]["epoch"] >= 1


@pytest.mark.skipif(not shutil.which("torchrun"), reason="torchrun not installed")
def test_ddp_training_with_two_gloo_processes(lines, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    model = tmp_path / "ddp"
    command = [
        *("torchrun", "--standalone", "--nproc_per_node=2", "--no-python", "quire"),
        *_train_args(lines, model, epochs=2),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (model / "model.json").exists()
    state = torch.load(model.with_name("ddp.checkpoint.pt"), weights_only=True)["state"]
    assert (state["epoch"], state["step"]) == (2, 2)  # each process: 1 of the 2 batches an epoch


def test_text_readings_leave_out_the_spaces_at_their_ends():
    from quire.recognize.predict import _inner

    text = Vocabulary.from_texts(["a b"], "text", "NFC")
    labels, _ = text.encode(" a b  ")
    assert text.text(labels[_inner(text, labels)]) == "a b"
    assert _inner(text, text.encode("  ")[0]) == slice(0, 0)
    kern = Vocabulary.from_texts(["4c 4d"], "kern", "NFC")
    assert _inner(kern, kern.encode("4c 4d")[0]) == slice(0, 2)


def test_normalise_writes_modern_letters_and_keeps_a_span_per_letter():
    from quire.recognize.predict import Reading, modern_letters

    text = "Aufklaͤrung iſt ﬁn"
    spans = [(k / len(text), (k + 1) / len(text)) for k in range(len(text))]
    confidences = [0.9] * len(text)
    confidences[6] = 0.5  # the small e
    modern = modern_letters(Reading(text, 0.8, confidences, spans))
    assert modern.text == "Aufklärung ist fin"
    assert len(modern.symbol_spans) == len(modern.symbol_confidences) == len(modern.text)
    assert modern.symbol_confidences[5] == 0.5  # ä: the lower of a and its e
    assert modern.symbol_spans[5] == (spans[5][0], spans[6][1])
    assert (
        modern.symbol_spans[-3][1]
        == modern.symbol_spans[-2][0]
        == spans[-2][0] + 0.5 * (spans[-2][1] - spans[-2][0])
    )  # the ligature's span shared by its letters
