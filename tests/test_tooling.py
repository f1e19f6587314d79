"""Tooling stages on synthetic and real pages: cut options, split, merge."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from lxml import etree
from PIL import Image

from quire.cli import cli
from quire.pagexml import PageDocument
from tests.conftest import REPO, script_environment


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    """Two piano pages rendered by quire synth music, with their kern and ground truth."""
    out = tmp_path_factory.mktemp("music")
    run(
        *("synth", "music", out, "--pages", "2", "--dpi", "100", "--seed", "3"),
        *("--kind", "piano", "--max-systems", "3"),
    )
    return out


def work_copy(music: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(music / "page", work / "page")
    return work


def truth_as_results(work: Path, conf: str = "0.875") -> Path:
    """results.tsv holding the ground truth of the staves, as a recognizer would write it."""
    rows = (work / "lists" / "staves-gt.txt").read_text().splitlines()
    results = work / "results.tsv"
    lines = [
        f"{work / 'lists' / path}\t{conf}\t{text}" for path, text in (r.split("\t") for r in rows)
    ]
    results.write_text("\n".join(lines) + "\n")
    return results


def texts(page_dir: Path) -> dict[str, tuple[str | None, float | None]]:
    return {
        f"{xml.stem}-{line.id}": (line.text, line.conf)
        for xml in sorted(page_dir.glob("*.xml"))
        for line in PageDocument.read(xml).text_lines()
    }


def strip_texts(page_dir: Path) -> None:
    for xml in page_dir.glob("*.xml"):
        doc = PageDocument.read(xml)
        for line in doc.text_lines():
            for equiv in line.element.findall(f"{{{doc.ns}}}TextEquiv"):
                line.element.remove(equiv)
        doc.write(xml)


def test_cut_then_merge_gives_back_the_transcriptions(music, tmp_path, validate):
    work = work_copy(music, tmp_path)
    run("cut", music / "images", work, "--workers", "2")
    results = truth_as_results(work)
    before = texts(work / "page")
    strip_texts(work / "page")
    assert all(text is None for text, _ in texts(work / "page").values())
    run("merge", work, "-r", results, "-m", Path(__file__).parents[1] / "models/staff-default")
    after = texts(work / "page")
    assert {k: t for k, (t, _) in after.items()} == {k: t for k, (t, _) in before.items()}
    assert {conf for _, conf in after.values()} == {0.875}
    for xml in (work / "page").glob("*.xml"):
        assert validate(xml) == []
        doc = PageDocument.read(xml)
        step = doc.processing_steps()[-1]
        assert step["name"] == "merge" and step["model"] == "staff-default"
        assert {line.custom_get("encoding")["name"] for line in doc.text_lines()} == {"bekern"}


def test_merge_reports_bad_rows_and_merges_the_rest(music, tmp_path):
    work = work_copy(music, tmp_path)
    run("cut", music / "images", work)
    results = truth_as_results(work)
    staff = next(iter(texts(work / "page")))
    with results.open("a") as out:
        out.write("a row without tabs\n")
        out.write(f"{work}/snippets/x/{staff}-not-there.png\t0.5\t4c\n")
        out.write(f"elsewhere/{staff}.png\t0.5\t4c\n")
        out.write("elsewhere/p-l.png\thigh\t4c\n")
    first = next(iter((work / "lists" / "staves-gt.txt").read_text().splitlines()))
    results.write_text(
        results.read_text().replace(first.split("\t")[1], "Hello world", 1), encoding="utf-8"
    )
    strip_texts(work / "page")
    output = run("merge", work, "-r", results, code=1)
    assert ":5: expected path<TAB>confidence<TAB>text" not in output
    assert "a row without tabs" not in output and "expected path<TAB>confidence<TAB>text" in output
    assert f"no line {staff}-not-there" in output
    assert f"{staff} is listed already" in output
    assert "confidence 'high' is not a number from 0 to 1" in output
    assert "'Hello' is not a kern note, rest, barline or interpretation" in output
    merged = [key for key, (text, _) in texts(work / "page").items() if text]
    assert len(merged) == len(texts(work / "page")) - 1  # every staff but the bad one


@pytest.mark.parametrize(
    "name", ["NL-0400410000_26_005006_000381_2019.xml", "NL-0400410000_26_005006_000381_htr.xml"]
)
def test_merge_keeps_real_pages_valid_and_the_rest_unchanged(shared_data, tmp_path, validate, name):
    source = shared_data / "pagexml-examples" / "loghi" / name
    work = tmp_path / "work"
    (work / "page").mkdir(parents=True)
    shutil.copy(source, work / "page" / source.name)
    doc = PageDocument.read(source)
    rows = [
        f"s/{source.stem}-{line.id}.png\t0.5\tnew text {n}"
        for n, line in enumerate(doc.text_lines())
    ]
    (work / "results.tsv").write_text("\n".join(rows) + "\n")
    run("merge", work)
    merged = work / "page" / source.name
    assert validate(merged, doc.version) == []
    assert [line.text for line in PageDocument.read(merged).text_lines()] == [
        f"new text {n}" for n in range(len(rows))
    ]

    def without_owned(path: Path) -> bytes:
        tree = etree.parse(str(path), etree.XMLParser(remove_blank_text=True))
        ns = tree.getroot().nsmap[None]
        for element in [*tree.iter(f"{{{ns}}}TextEquiv"), *tree.iter(f"{{{ns}}}Metadata")]:
            if element.tag.endswith("Metadata") or element.getparent().tag.endswith("TextLine"):
                element.getparent().remove(element)
        return etree.tostring(tree, method="c14n")

    assert without_owned(merged) == without_owned(source)
    old, new = PageDocument.read(source).metadata, PageDocument.read(merged).metadata
    assert (new["Creator"], new["Created"]) == (old["Creator"], old["Created"])


def test_cut_options_alpha_padding_height_weights_bounds(music, tmp_path):
    work = work_copy(music, tmp_path)
    first = sorted((work / "page").glob("*.xml"))[0]
    doc = PageDocument.read(first)
    lines = list(doc.text_lines())
    lines[0].set_text(lines[0].text, 0.4)
    lines[1].set_text(lines[1].text, 0.95)
    lines[2].custom = [*lines[2].custom, ("unclear", {"offset": "0", "length": "3"})]
    lines[3].set_text("   ")
    doc.write(first)
    output = run(
        "-v",
        "cut",
        music / "images",
        work,
        "--fill",
        "alpha",
        "--padding",
        "5",
        "--height",
        "48",
        "--min-confidence",
        "0.5",
        "--weights",
    )
    assert "left out of the ground truth: 1 confidence, 1 empty, 1 unclear" in output
    gt = (work / "lists" / "staves-gt.txt").read_text().splitlines()
    listed = (work / "lists" / "staves.txt").read_text().splitlines()
    assert len(gt) == len(listed) - 3
    weights = {row.split("\t")[0]: row.split("\t")[1] for row in gt}
    assert weights[f"../snippets/{first.stem}/{first.stem}-{lines[1].id}.png"] == "0.95"
    assert set(weights.values()) == {"0.95", "1"}
    snippet = Image.open(work / "lists" / listed[0])
    assert snippet.mode == "RGBA" and snippet.height == 48
    alpha = np.asarray(snippet)[..., 3]
    assert alpha[0].max() == 0 and alpha[24].max() == 255  # padding is transparent
    record = json.loads((work / "snippets" / "cut.json").read_text())
    assert record == {"deskew": True, "padding": 5}  # for quire words


def test_cut_in_parallel_writes_the_same_lists(music, tmp_path):
    lists = []
    for workers in ("0", "2"):
        work = tmp_path / f"w{workers}"
        shutil.copytree(music / "page", work / "page")
        run("cut", music / "images", work, "--workers", workers)
        lists.append((work / "lists" / "staves-gt.txt").read_text())
    assert lists[0] == lists[1] and lists[0].count("\n") == len(texts(music / "page"))


@pytest.mark.parametrize(
    ("lines", "expected"), [(1, (1, 0)), (2, (1, 1)), (3, (2, 1)), (40, (36, 4))]
)
def test_split_is_deterministic_and_right_on_tiny_sets(tmp_path, lines, expected):
    listing = tmp_path / "lists" / "gt.txt"
    listing.parent.mkdir()
    listing.write_text("".join(f"../s/l{i}.png\tline {i}\n" for i in range(lines)))
    run("split", listing, tmp_path / "a", "--seed", "4")
    run("split", listing, tmp_path / "b", "--seed", "4")
    train = (tmp_path / "a" / "train.txt").read_text().splitlines()
    val = (tmp_path / "a" / "val.txt").read_text().splitlines()
    assert (len(train), len(val)) == expected
    assert (tmp_path / "b" / "train.txt").read_text().splitlines() == train
    assert sorted(train + val) == sorted(f"../s/l{i}.png\tline {i}" for i in range(lines))


def tree_state(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in sorted(folder.rglob("*"))}


def test_create_train_data_script(music, tmp_path):
    script = REPO / "scripts" / "create-train-data.sh"
    before = tree_state(music)
    out = tmp_path / "out"
    args = [script, music / "images", out, "--pages", music / "page", "--runner", "local"]
    run_script = subprocess.run([*map(str, args), "--seed", "5"], capture_output=True, text=True)
    assert run_script.returncode == 0, run_script.stderr
    assert "training lists of staves" in run_script.stderr
    train = (out / "train.txt").read_text().splitlines()
    val = (out / "val.txt").read_text().splitlines()
    staves = len(texts(music / "page"))
    assert len(train) + len(val) == staves and len(val) == round(staves * 0.1)
    for row in train + val:
        assert (out / row.split("\t")[0]).is_file()
    assert tree_state(music) == before  # IN is only read
    assert {p.name for p in out.iterdir()} == {
        ".done",
        "logs",
        "lists",
        "snippets",
        "train.txt",
        "val.txt",
    }
    again = subprocess.run([*map(str, args), "--seed", "5"], capture_output=True, text=True)
    assert again.returncode == 0 and (out / "train.txt").read_text().splitlines() == train
    empty = subprocess.run(
        [*map(str, args[:2]), tmp_path / "o2", "--kind", "lines", "--pages", music / "page"],
        capture_output=True,
        text=True,
    )
    assert empty.returncode == 2 and "lines-gt.txt: no lines with a transcription" in empty.stderr


def midi_notes(
    path_or_text: Path | str, fmt: str | None = None, graces: bool = True
) -> set[tuple[float, int]]:
    """(onset in quarters, MIDI pitch) of every note, ties joined, through music21
    (MIDI read as written: music21 would round 32nds to 16ths and triplets), onsets
    on a grid of 1/24 quarter (MIDI ticks hold a triplet sixteenth only to a tick)."""
    import music21

    exact = {} if fmt else {"quantizePost": False}
    score = music21.converter.parse(path_or_text, format=fmt, **exact)
    return {
        (round(float(note.offset) * 24) / 24, pitch.midi)
        for note in score.stripTies().flatten().notes
        if graces or not note.duration.isGrace
        for pitch in note.pitches
    }


def test_export_gives_midi_with_the_notes_of_the_source_kern(music, tmp_path, validate):
    work = work_copy(music, tmp_path)
    run("order", work)
    run("export", music / "images", work)
    for xml in sorted((work / "page").glob("*.xml")):
        assert validate(xml) == []
        exported = work / "export" / f"{xml.stem}"
        source = (music / "kern" / f"{xml.stem}.krn").read_text()
        expected = midi_notes(source, "humdrum")
        assert len(expected) > 20
        # MIDI plays a grace note before its beat (or delays the note it leans on):
        # the same notes, each within an eighth of a quarter
        played = midi_notes(exported.with_suffix(".mid"))
        assert len(played) == len(expected)
        for true_onset, pitch in sorted(expected):
            match = min(played, key=lambda note: (note[1] != pitch, abs(note[0] - true_onset)))
            assert match[1] == pitch and abs(match[0] - true_onset) <= 0.125
            played.remove(match)
        # music21 does not write the page's grace notes to MusicXML, and reads some of
        # the exported kern's a beat off: the main notes, exactly
        main = midi_notes(source, "humdrum", graces=False)
        assert midi_notes(exported.with_suffix(".musicxml"), graces=False) == main
        kern = exported.with_suffix(".krn").read_text()
        assert midi_notes(kern, "humdrum", graces=False) == main
        assert len(re.findall(r"\dq", kern)) == len(re.findall(r"\dq", source))
        assert b"<mei" in exported.with_suffix(".mei").read_bytes()
        with Image.open(work / "export" / "overlays" / f"{xml.stem}.png") as overlay:
            assert overlay.width == 827  # the page at 100 dpi, under the 1600 px limit
    index = (work / "export" / "index.html").read_text()
    assert index.count("<tr>") == 3 and "musicxml" in index


def test_staves_that_disagree_are_marked_and_repaired_by_the_most_confident(music, tmp_path):
    work = work_copy(music, tmp_path)
    run("cut", music / "images", work)
    rows = [row.split("\t") for row in truth_as_results(work).read_text().splitlines()]
    # wrong readings, less confident than the rest: a barline missed on the first
    # staff, a note read twice on the fourth (its measure a quarter too long)
    rows[0][1:] = ["0.5", rows[0][2].replace(" = ", " ", 1)]
    first, rest = rows[3][2].split(" = ", 1)
    rows[3][1:] = ["0.5", f"{first} = 4c {rest}"]
    results = work / "wrong.tsv"
    results.write_text("".join("\t".join(row) + "\n" for row in rows))
    run("merge", work, "-r", results)
    xml = sorted((work / "page").glob("*.xml"))[0]
    marks = {
        line.id: (line.custom_get("score") or {}).get("changed")
        for line in PageDocument.read(xml).text_lines()
    }
    assert "added as rests" in marks["system_1_staff_1"]
    assert "left out to fit" in marks["system_2_staff_2"]
    assert sum(mark is not None for mark in marks.values()) == 2  # the rest agree
    output = run("export", music / "images", work)
    assert "staff system_1_staff_1 changed to agree with its system" in output
    for page in sorted((work / "export").glob("*.musicxml")):
        import music21

        score = music21.converter.parse(page)
        counts = {len(part.getElementsByClass("Measure")) for part in score.parts}
        assert len(counts) == 1  # every staff as many measures
        midi = music21.converter.parse(page.with_suffix(".mid"), quantizePost=False)
        assert midi.highestTime == score.highestTime > 8  # no measure padded by Verovio
    with Image.open(work / "export" / "overlays" / f"{xml.stem}.png") as overlay:
        pixels = np.asarray(overlay.convert("RGB")).reshape(-1, 3)
        assert (pixels == (204, 0, 102)).all(axis=1).sum() > 100  # the marked staves


def test_export_writes_the_same_bytes_in_every_run(music, tmp_path):
    """Two processes, and a page exported alone, give the same files (Verovio and music21
    draw ids at random unless told otherwise)."""
    env = script_environment(SOURCE_DATE_EPOCH="1700000000")
    exported = []
    for run_name, keep in (("first", None), ("second", None), ("alone", -1)):
        work = tmp_path / run_name
        shutil.copytree(music / "page", work / "page")
        if keep is not None:
            for xml in sorted((work / "page").glob("*.xml"))[:keep]:
                xml.unlink()
        subprocess.run(["quire", "export", music / "images", work], env=env, check=True)
        exported.append(
            {p.relative_to(work / "export"): p.read_bytes() for p in (work / "export").rglob("*.*")}
        )
    first, second, alone = exported
    assert {p.suffix for p in first} >= {".krn", ".musicxml", ".mid", ".mei", ".png", ".html"}
    assert first == second
    assert all(first[name] == data for name, data in alone.items() if name.name != "index.html")


def test_export_leaves_out_a_staff_that_is_not_music_and_says_so(music, tmp_path):
    work = work_copy(music, tmp_path)
    xml = sorted((work / "page").glob("*.xml"))[0]
    doc = PageDocument.read(xml)
    bad = next(iter(doc.text_lines()))
    bad.set_text("Allegro moderato")
    doc.write(xml)
    output = run("export", music / "images", work, "--formats", "midi", code=1)
    assert f"staff {bad.id}: 'Allegro' is not a kern note" in output
    notes = midi_notes(work / "export" / f"{xml.stem}.mid")
    source = midi_notes((music / "kern" / f"{xml.stem}.krn").read_text(), "humdrum")
    # the other staves are there (a grace note of the staff left out no longer moves
    # the notes beside it: each within an eighth of a quarter)
    assert notes and len(notes) < len(source)
    assert all(any(p == q and abs(t - u) <= 0.125 for u, q in source) for t, p in notes)
    assert not (work / "export" / f"{xml.stem}.krn").exists()


def region_page(tmp_path: Path) -> Path:
    """A two-column page with a header, a margin note and shuffled lines."""
    doc = PageDocument.new("p.png", 1000, 1400)
    page = doc.page

    def region(rid: str, x0: int, y0: int, x1: int, y1: int, lines: int) -> None:
        r = page.add_region("TextRegion", rid, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        step = (y1 - y0) // lines
        for n in reversed(range(lines)):  # bottom line first in the file
            y = y0 + n * step
            r.add_text_line(
                f"{rid}_l{n}",
                [(x0, y), (x1, y), (x1, y + step - 5), (x0, y + step - 5)],
                [(x0, y + step - 10), (x1, y + step - 10)],
                text=f"{rid} {n}",
            )

    region("right_bottom", 520, 800, 900, 1300, 3)
    region("left", 100, 200, 480, 1300, 5)
    region("margin", 920, 300, 990, 400, 1)
    region("right_top", 520, 200, 900, 760, 2)
    region("header", 100, 50, 900, 150, 1)
    (tmp_path / "work" / "page").mkdir(parents=True)
    path = tmp_path / "work" / "page" / "p.xml"
    doc.write(path)
    return path


def test_order_reads_header_columns_and_margin(tmp_path, validate):
    path = region_page(tmp_path)
    run("order", path.parent.parent)
    assert validate(path) == []
    doc = PageDocument.read(path)
    assert doc.reading_order() == ["header", "left", "right_top", "right_bottom", "margin"]
    left = doc.find("left")
    assert [line.id for line in left.text_lines()] == [f"left_l{n}" for n in range(5)]
    assert [line.custom_get("readingOrder") for line in left.text_lines()] == [
        {"index": str(n)} for n in range(5)
    ]
    assert doc.find("margin").custom_get("readingOrder") == {"index": "4"}
    run("export", tmp_path, path.parent.parent, "--formats", "text")
    text = (path.parent.parent / "export" / "p.txt").read_text()
    assert text.startswith("header 0\n\nleft 0\nleft 1\n")


@pytest.mark.parametrize(
    "name",
    [
        "loghi/NL-0400410000_26_005006_000381_2019.xml",
        "loghi/NL-0400410000_26_005006_000381_htr.xml",
        "prima/aletheiaexamplepage.xml",
        "kraken/170025120000003,0074.xml",
    ],
)
def test_page_stages_keep_real_pages_valid(shared_data, tmp_path, validate, name):
    source = shared_data / "pagexml-examples" / name
    work = tmp_path / "work"
    (work / "page").mkdir(parents=True)
    shutil.copy(source, work / "page")
    path = work / "page" / source.name
    for stage in ("order", "words", "language"):
        run(stage, work)
    doc = PageDocument.read(path)
    assert validate(path, doc.source_version) == []
    assert len(doc.reading_order()) == len(list(doc.page.regions()))
    original = PageDocument.read(source)
    assert {(line.id, line.text) for line in doc.text_lines()} == {
        (line.id, line.text) for line in original.text_lines()
    }
    if doc.source_version == "2013-07-15":  # no MetadataItem in 2013: steps are comments
        assert "processingStep: language" in doc.metadata["Comments"]
    else:
        names = {step["name"] for step in doc.processing_steps()}
        assert {"order", "language"} <= names
        assert ("words" in names) == any(line.text for line in doc.text_lines())


def slanted_line_page(tmp_path: Path, text: str = "alpha beta") -> Path:
    """A page with one text line falling 0.1 px per px, and its region."""
    doc = PageDocument.new("p.png", 1200, 800)
    region = doc.page.add_region("TextRegion", "r", [(90, 90), (1110, 90), (1110, 400), (90, 400)])
    polygon = [(100, 100), (1100, 200), (1100, 260), (100, 160)]
    region.add_text_line("l", polygon, [(100, 150), (1100, 250)], text=text, conf=0.8)
    path = tmp_path / "work" / "page" / "p.xml"
    path.parent.mkdir(parents=True)
    doc.write(path)
    return path


def test_words_follow_the_recognizer_or_interpolate_along_a_slanted_line(tmp_path, validate):
    path = slanted_line_page(tmp_path)
    run("words", path.parent.parent)
    assert validate(path) == []
    words = PageDocument.read(path).find("l").words()
    assert [(w.id, w.text, w.conf) for w in words] == [
        ("l_w0", "alpha", 0.8),
        ("l_w1", "beta", 0.8),
    ]
    first, second = (np.asarray(w.coords, float) for w in words)
    assert first[:, 0].min() == pytest.approx(100, abs=3) and second[:, 0].max() == pytest.approx(
        1100, abs=3
    )
    assert second[:, 1].mean() > first[:, 1].mean() + 40  # lower, as the line falls
    # the recognizer read "alpha" in the first 20 % of the snippet, "beta" in the last 40 %
    spans = [(0.02 * i, 0.02 * i + 0.02) for i in range(5)] + [(0.3, 0.6)]
    spans += [(0.6 + 0.1 * i, 0.7 + 0.1 * i) for i in range(4)]
    tokens = tmp_path / "results.tokens.tsv"
    tokens.write_text(
        "snippets/p/p-l.png\t"
        + " ".join(["0.5"] * 5 + ["0.9"] + ["1.0"] * 4)
        + "\t"
        + " ".join(f"{a:.4f}:{b:.4f}" for a, b in spans)
        + "\n"
    )
    output = run("-v", "words", path.parent.parent, "--tokens", tokens)
    assert "words placed on 1 lines by the recognizer, 0 interpolated" in output
    first, second = PageDocument.read(path).find("l").words()
    assert first.conf == 0.5 and second.conf == 1.0
    assert np.asarray(first.coords)[:, 0].max() == pytest.approx(100 + 0.1 * 1005, abs=8)
    assert np.asarray(second.coords)[:, 0].min() == pytest.approx(100 + 0.6 * 1005, abs=8)
    assert len(PageDocument.read(path).find("l").words()) == 2  # replaced, not added
    # snippets cut with 100 px of padding: the spans cover 1005 + 200 px from x = 0
    (path.parent.parent / "snippets").mkdir()
    (path.parent.parent / "snippets" / "cut.json").write_text('{"deskew": true, "padding": 100}')
    run("words", path.parent.parent, "--tokens", tokens)
    first, second = PageDocument.read(path).find("l").words()
    assert np.asarray(first.coords)[:, 0].max() == pytest.approx(0.1 * 1205, abs=8)
    assert np.asarray(second.coords)[:, 0].min() == pytest.approx(0.6 * 1205, abs=8)
    (path.parent.parent / "snippets" / "cut.json").write_text("{")
    output = run("words", path.parent.parent, "--tokens", tokens, code=2)
    assert "cut.json: is not a cut record" in output


def test_words_map_a_share_of_the_snippet_to_the_page_column_cut_took_it_from():
    from quire.cut import cut_line
    from quire.words import split_line

    doc = PageDocument.new("p.png", 1200, 400)
    region = doc.page.add_region("TextRegion", "r", [(90, 90), (1110, 90), (1110, 300), (90, 300)])
    polygon = [(100, 200), (1100, 200), (1100, 260), (100, 260)]
    line = region.add_text_line("l", polygon, [(100, 250), (1100, 250)], text="ab cd")
    snippet, _ = cut_line(np.full((400, 1200), 255, np.uint8), np.asarray(polygon, float))
    assert snippet.shape[1] == 1002  # columns 99 to 1100 of the page: a pixel around the line
    spans = [(0.0, 0.1), (0.1, 0.2), (0.2, 0.5), (0.5, 0.6), (0.6, 0.9)]
    first, second = (np.asarray(p)[:, 0] for _, p, _ in split_line(line, spans, None))
    assert (first.min(), first.max()) == pytest.approx((100, 99 + 0.2 * 1002))
    assert (second.min(), second.max()) == pytest.approx((99 + 0.5 * 1002, 99 + 0.9 * 1002))


def test_language_names_lines_regions_and_page(tmp_path, validate):
    path = slanted_line_page(
        tmp_path, "Het was een koude winterdag in Amsterdam en de grachten lagen bevroren."
    )
    doc = PageDocument.read(path)
    doc.find("r").add_text_line(
        "short", [(100, 300), (300, 300), (300, 350), (100, 350)], text="ok"
    )
    doc.write(path)
    run("language", path.parent.parent)
    assert validate(path) == []
    doc = PageDocument.read(path)
    get = lambda node: node.element.get("primaryLanguage")  # noqa: E731
    assert (get(doc.page), get(doc.find("r")), get(doc.find("l"))) == ("Dutch", "Dutch", "Dutch")
    assert get(doc.find("short")) is None
    run(
        "language",
        path.parent.parent,
        "--languages",
        "en",
        "--languages",
        "de",
        "--min-probability",
        "0.99",
    )
    assert get(PageDocument.read(path).find("l")) is None  # unsure among English and German
    output = run("language", path.parent.parent, "--languages", "xx", code=2)
    assert "languages: xx unknown" in output


def test_language_names_are_page_schema_names(shared_data):
    import re

    from quire.language import identifier, page_name

    schema = (shared_data / "pagexml-schemas" / "pagecontent_2019-07-15.xsd").read_text()
    start = schema.index('name="LanguageSimpleType"')
    names = set(
        re.findall(
            r'enumeration value="([^"]+)"', schema[start : schema.index("</simpleType>", start)]
        )
    )
    model = identifier(())
    assert len(model.labels) > 90
    assert {page_name(code) for code in model.labels} <= names


def test_pseudolabel_keeps_confident_lines_with_weights(music, tmp_path):
    work = work_copy(music, tmp_path)
    run("cut", music / "images", work)
    rows = (work / "lists" / "staves-gt.txt").read_text().splitlines()
    results = work / "results.tsv"
    results.write_text(
        "".join(
            f"lists/{path}\t{0.5 if n % 2 else 0.95}\t{text}\n"
            for n, (path, text) in enumerate(r.split("\t") for r in rows)
        )
        + "snippets/gone.png\t0.99\t4c\n"
    )
    output = run(
        "pseudolabel", results, "-o", tmp_path / "pl.txt", "--min-confidence", "0.9", code=1
    )
    assert "gone.png: no snippet" in output
    kept = (tmp_path / "pl.txt").read_text().splitlines()
    assert len(kept) == (len(rows) + 1) // 2 and all(r.split("\t")[1] == "0.95" for r in kept)
    run("merge", work, code=1)  # the row for the missing snippet has no line
    run(
        "pseudolabel",
        work,
        "-o",
        tmp_path / "pl2.txt",
        "--min-confidence",
        "0.9",
        "--kind",
        "staves",
    )
    assert sorted((tmp_path / "pl2.txt").read_text().splitlines()) == sorted(kept)
    run("pseudolabel", work, "-o", tmp_path / "pl3.txt", "--kind", "lines")
    assert (tmp_path / "pl3.txt").read_text() == ""


def test_evaluate_pages_pairs_lines_by_overlap(music, tmp_path):
    """Predicted lines with other ids, one staff misread, one lost: SER and OMR-NED by
    page. A text line read on a page whose truth has none (its lyrics) is not scored;
    staves read in bekern are compared with kern truth."""
    import json

    from quire.music.encodings import encode

    predicted = tmp_path / "predicted"
    predicted.mkdir()
    pages = sorted((music / "page").glob("*.xml"))
    expected_errors = {}
    for index, xml in enumerate(pages):
        doc = PageDocument.read(xml)
        staves = [line for line in doc.text_lines() if line.is_staff]
        for number, line in enumerate(staves):
            line.element.set("id", f"other_{number}")
        if index == 0:  # its first staff loses its last token, its last staff is not found
            first, last = staves[0], staves[-1]
            first.set_text(first.text.rsplit(" ", 1)[0])
            last.element.getparent().remove(last.element)
            expected_errors[xml.stem] = 1 + len(last.text.split())
            region = doc.page.add_region(
                "TextRegion", "lyrics", [(0, 0), (90, 0), (90, 30), (0, 30)]
            )
            region.add_text_line("lyrics_1", [(0, 0), (90, 0), (90, 30), (0, 30)]).set_text("la la")
        else:
            for line in staves:
                line.set_text(encode(line.text, "bekern"))
                line.custom_set("encoding", {"name": "bekern"})
        doc.write(predicted / xml.name)
    report = json.loads(run("-q", "evaluate", "pages", predicted, music / "page"))
    assert report["pages"] == 2 and report["staves"]["encoding"] == "kern"
    first, second = (report["per_page"][xml.stem]["staff_ser"] for xml in pages)
    assert first > 0 and second == 0.0 and report["staves"]["worst_page"] == first
    first, second = (report["per_page"][xml.stem]["omr_ned"] for xml in pages)
    assert 0 < first < 0.5 and second == 0.0
    score = report["score"]
    assert score["omr_ned"] == score["omr_edit_distance"] / (
        score["symbols_read"] + score["symbols_true"]
    )
    doc = PageDocument.read(predicted / pages[1].name)  # agnostic has no pitches: refused
    for line in doc.text_lines():
        line.custom_set("encoding", {"name": "agnostic"})
    doc.write(predicted / pages[1].name)
    output = run("evaluate", "pages", predicted, music / "page", code=2)
    assert f"{predicted / pages[1].name}: staves in agnostic cannot be read in kern" in output
    assert report["staves"]["ser_errors"] == expected_errors[pages[0].stem]
    assert report["per_page"][pages[0].stem]["text_cer"] is None  # no true text lines
    assert report["text"]["lines"] == 0


def test_baselines_match_within_the_tolerance_over_half_the_true_width():
    from quire.evaluate import baseline_matches

    true = [[(100, 200), (900, 200)], [(100, 260), (900, 260)]]
    assert baseline_matches([[(100, 208), (900, 212)]], true) == 1  # within 10 px, left to right
    assert baseline_matches([[(100, 215), (900, 215)]], true) == 0  # 15 px off
    assert baseline_matches([[(100, 215), (900, 215)]], true, tolerance=20) == 1
    halves = [[(100, 200), (480, 200)], [(520, 200), (900, 200)]]
    assert baseline_matches(halves, true) == 0  # a line split in two: neither half is enough
    assert baseline_matches([[(100, 201), (600, 201)], [(100, 199), (900, 199)]], true) == 1
    slanted = [[(100, 230), (900, 290)]]  # crosses a line: near it for a third
    assert baseline_matches(slanted, true) == 0


def test_evaluate_pages_finds_text_lines_by_baseline_and_scores_the_page_text(tmp_path):
    """A page read with one line split in two and one line missed: baseline F1 and the
    CER of the page's text in reading order."""
    import json

    truth, predicted = tmp_path / "truth", tmp_path / "predicted"
    truth.mkdir(), predicted.mkdir()
    lines = ["Was iſt Aufklaͤrung?", "Ausgang des Menſchen", "aus ſeiner Unmuͤndigkeit"]
    doc = PageDocument.new("page.png", 1000, 600)
    region = doc.page.add_region("TextRegion", "r", [(0, 0), (999, 0), (999, 599), (0, 599)])
    for k, text in enumerate(lines):
        y = 100 + 100 * k
        box = [(100, y - 40), (900, y - 40), (900, y + 10), (100, y + 10)]
        region.add_text_line(f"l{k}", box, [(100, y), (900, y)]).set_text(text)
    doc.write(truth / "page.xml")
    doc = PageDocument.new("page.png", 1000, 600)
    region = doc.page.add_region("TextRegion", "r", [(0, 0), (999, 0), (999, 599), (0, 599)])
    read = [("Was iſt", 100, 480, 104), ("Aufklärung?", 520, 900, 104), (lines[1], 100, 900, 197)]
    for k, (text, x0, x1, y) in enumerate(read):
        box = [(x0, y - 40), (x1, y - 40), (x1, y + 10), (x0, y + 10)]
        region.add_text_line(f"p{k}", box, [(x0, y), (x1, y)]).set_text(text)
    doc.write(predicted / "page.xml")
    found = json.loads(run("-q", "evaluate", "pages", predicted, truth))["text_lines"]
    assert (found["true_lines"], found["predicted_lines"], found["matched_lines"]) == (3, 3, 1)
    assert found["precision"] == found["recall"] == pytest.approx(1 / 3)
    # the page text: a line break for a space, aͤ read as ä (two code points as one),
    # the last line missing
    reference = "\n".join(lines)
    errors = 1 + 2 + len("\naus ſeiner Unmuͤndigkeit")
    assert found["page_cer"] == pytest.approx(errors / len(reference))
    assert found["per_page"]["page"]["page_cer"] == found["page_cer"]


def test_synth_corpus_is_reproducible_prose_and_names_a_bad_language(tmp_path):
    for name in ("a.txt", "b.txt"):
        run("synth", "corpus", tmp_path / name, "--words", "300", "--languages", "fr")
    text = (tmp_path / "a.txt").read_text()
    assert text == (tmp_path / "b.txt").read_text() and len(text.split()) >= 300
    assert text[0].isupper() and text.rstrip()[-1] in ".?!;:"
    output = run("synth", "corpus", tmp_path / "c.txt", "--languages", "xx", code=2)
    assert "c.txt: wordfreq has no word list for language 'xx'" in output
    assert not (tmp_path / "c.txt").exists()
