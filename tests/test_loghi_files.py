"""What Loghi's tools write: style markers, 4-field results, its PageXML output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import etree

from quire.lists import read_results
from quire.pagexml import PageDocument
from quire.pagexml.styles import from_markers, to_markers
from tests.conftest import quire

LOGHI_EXAMPLES = [  # Loghi's tooling writes and reads these (one marker per character)
    ("Dit is ␅e␅e␅n test", [(7, 3, "underlined")]),
    ("␆D␆i␆t is een ␄t␄e␄s␄t", [(0, 3, "superscript"), (11, 4, "subscript")]),
    ("Dit is ␃␅e␃␅e␃␅n test", [(7, 3, "strikethrough"), (7, 3, "underlined")]),
    ("Dit ␅i␅s␅ ␃␅e␃␅e␃n␃ ␃test", [(4, 5, "underlined"), (7, 5, "strikethrough")]),
]


@pytest.mark.parametrize(("marked", "spans"), LOGHI_EXAMPLES)
def test_style_markers_to_ranges_and_back(marked, spans):
    clean, found = from_markers(marked)
    assert clean == "Dit is een test" and found == spans
    assert to_markers(clean, found) == marked


def one_line_page(folder: Path, text: str = "old", custom: str | None = None) -> Path:
    doc = PageDocument.new("p.png", 400, 100)
    region = doc.page.add_region("TextRegion", "r", [(0, 0), (400, 0), (400, 100), (0, 100)])
    line = region.add_text_line("l", [(10, 10), (390, 10), (390, 60), (10, 60)],
                                [(10, 50), (390, 50)], text=text)  # fmt: skip
    if custom:
        line.element.set("custom", custom)
    line.text_style = {"xHeight": "20"}
    (folder / "page").mkdir(parents=True, exist_ok=True)
    doc.write(folder / "page" / "p.xml")
    return folder / "page" / "p.xml"


def test_merge_turns_markers_into_text_styles_and_cut_writes_them_back(tmp_path, validate):
    page = one_line_page(
        tmp_path, custom="readingOrder {index:0;} textStyle {offset:0; length:3; bold:true;}"
    )
    (tmp_path / "results.tsv").write_text("s/p-l.png\t0.9\t␅␃D␅␃i␅␃t is ␆2\n", encoding="utf-8")
    quire("merge", tmp_path)
    line = next(PageDocument.read(page).text_lines())
    assert line.text == "Dit is 2"
    assert line.custom_get("readingOrder") == {"index": "0"}
    assert [f for k, f in line.custom if k == "textStyle"] == [
        {"offset": "0", "length": "3", "strikethrough": "true"},
        {"offset": "0", "length": "3", "underlined": "true"},
        {"offset": "7", "length": "1", "superscript": "true"},
    ]
    assert line.text_style == {"xHeight": "20"}
    assert line.styled_text == "␃␅D␃␅i␃␅t is ␆2"
    assert validate(page) == []

    (tmp_path / "results.tsv").write_text("s/p-l.png\t0.9\t␅a␅l␅l␅ ␅o␅f␅ ␅i␅t\n", encoding="utf-8")
    quire("merge", tmp_path)
    line = next(PageDocument.read(page).text_lines())
    assert (line.text, line.text_style) == ("all of it", {"xHeight": "20", "underlined": "true"})
    assert not [k for k, _ in line.custom if k == "textStyle"]

    from PIL import Image

    Image.new("L", (400, 100), 255).save(tmp_path / "p.png")
    quire("cut", tmp_path, tmp_path, "--style-markers")
    rows = (tmp_path / "lists" / "lines-gt.txt").read_text(encoding="utf-8").splitlines()
    assert rows[0].split("\t")[-1] == "␅a␅l␅l␅ ␅o␅f␅ ␅i␅t"


def test_results_in_loghis_four_field_form_are_read(tmp_path):
    metadata = {"model": "generic-2023", "uuid": "1234"}
    results = tmp_path / "results.txt"
    results.write_text(
        f"p-l1.png\t{json.dumps(metadata)}\t0.75\tEen regel\np-l2.png\t0.5\ttext with\ta tab\n",
        encoding="utf-8",
    )
    rows, problems = read_results(results)
    assert not problems
    assert (rows["p-l1"].confidence, rows["p-l1"].text) == (0.75, "Een regel")
    assert rows["p-l1"].metadata == metadata
    assert (rows["p-l2"].text, rows["p-l2"].metadata) == ("text with\ta tab", {})


LOGHI_PAGES = [
    "NL-0400410000_26_005006_000381_2019.xml",
    "NL-0400410000_26_005006_000381_empty.xml",
    "NL-0400410000_26_005006_000381_htr.xml",
    "NL-0400410000_26_005006_000381_layout_2013.xml",
    "NL-HaNA_2.05.31_1_0031.xml",
]


def everything(path: Path) -> set[tuple]:
    """Every element of a page but those merge and order own, with its attributes and
    text (custom split into entries, so that an added readingOrder is no loss)."""
    owned = {"ReadingOrder", "OrderedGroup", "UnorderedGroup", "RegionRefIndexed", "RegionRef",
             "MetadataItem", "Labels", "Label", "LastChange", "Comments"}  # fmt: skip
    found = set()
    for element in etree.parse(str(path)).iter():
        name = etree.QName(element).localname
        if not isinstance(element.tag, str) or name in owned:
            continue
        attributes = {k: v for k, v in element.attrib.items() if k != "custom"}
        found.add((name, tuple(sorted(attributes.items())), (element.text or "").strip()))
        for entry in (element.get("custom") or "").split("}"):
            if entry.strip() and not entry.strip().startswith("readingOrder"):
                found.add((name, element.get("id"), " ".join(entry.split())))
    return found


@pytest.mark.parametrize("name", LOGHI_PAGES)
def test_loghi_output_folders_go_through_merge_order_and_export(shared_data, tmp_path, name):
    """Loghi's layout: page/ next to the images; nothing of the page is lost."""
    source = shared_data / "pagexml-examples" / "loghi" / name
    folder = tmp_path / "images"
    (folder / "page").mkdir(parents=True)
    page = folder / "page" / name
    shutil.copy(source, page)
    original = PageDocument.read(source)
    texts = {line.id: line.text for line in original.text_lines()}
    (tmp_path / "results.tsv").write_text(  # the same texts again, as Loghi's HTR gives them
        "".join(f"x/{page.stem}-{i}.png\t0.5\t{t}\n" for i, t in texts.items() if t),
        encoding="utf-8",
    )
    before = everything(source)
    if any(texts.values()):
        quire("merge", folder, "-r", tmp_path / "results.tsv")
    quire("order", folder)
    quire("export", folder, folder, "--formats", "text")
    after = everything(page)
    missing = {row for row in before - after if row[0] not in ("TextEquiv", "PlainText")}
    assert not missing, sorted(missing)[:5]
    doc = PageDocument.read(page)
    assert doc.version == original.version
    assert {line.id: line.text for line in doc.text_lines()} == texts
    assert {step["name"] for step in original.processing_steps()} <= {
        step["name"] for step in doc.processing_steps()
    }
    if any(texts.values()):
        exported = (folder / "export" / f"{page.stem}.txt").read_text(encoding="utf-8")
        assert all(text in exported for text in texts.values() if text)
