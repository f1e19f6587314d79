"""Staff text and its encodings, checked against a real PrIMuS incipit."""

from __future__ import annotations

import re

import pytest

from quire.music.encodings import encode, from_semantic, to_kern
from quire.music.kern import (
    KernError,
    parse_kern,
    split_token,
    staff_text,
    text_records,
)
from tests.conftest import spine_tokens

# PrIMuS incipit 000051652-1_2_1 in **kern: its 23-bar multirest as kern writes one.
INCIPIT = (
    "*clefC1 *k[b-e-a-] *M2/4 "
    + " = ".join(["2r"] * 23)
    + " = 4r 8r 8b- = 4.b- 8g = 4.ee- 8dd = 8cc 8cc 4r ="
)


@pytest.mark.parametrize("encoding", ["semantic", "agnostic"])
def test_primus_encodings_match_the_primus_files(shared_data, encoding):
    expected = (shared_data / "primus" / f"000051652-1_2_1.{encoding}").read_text().split()
    assert encode(INCIPIT, encoding).split() == expected


def test_chords_and_bekern():
    text = staff_text(["*clefG2", "4c 4e 4g", "8dd#L", "=", "2.r"])
    assert text == "*clefG2 4c <s> 4e <s> 4g 8dd#L = 2.r"
    assert text_records(text) == [["*clefG2"], ["4c 4e 4g"], ["8dd#L"], ["="], ["2.r"]]
    assert encode(text, "bekern") == "*clefG2 4·c <s> 4·e <s> 4·g 8·dd·#·L = 2.·r"
    assert split_token("[16BB-J") == ["[", "16", "BB", "-", "J"]
    with pytest.raises(KernError, match="chords"):
        encode(text, "semantic")


def test_semantic_back_to_kern():
    assert from_semantic(encode(INCIPIT, "semantic")) == INCIPIT
    tied = "*clefF4 *k[f#c#] *met(c) [4.G# 8G#_ 4G#] 2r; =="
    semantic = encode(tied, "semantic")
    assert semantic.split()[:3] == ["clef-F4", "keySignature-DM", "timeSignature-C"]
    assert from_semantic(semantic) == tied.replace("==", "=")  # semantic has one barline
    assert from_semantic("note-Bb4_eighth") == "8b-"  # beams are not in semantic
    assert to_kern(encode(tied, "bekern"), "bekern") == tied
    assert from_semantic("timeSignature-3/4 multirest-2 barline gracenote-C5_eighth") == (
        "*M3/4 2.r = 2.r = 8ccq"
    )
    with pytest.raises(KernError, match="tuplet-3"):
        from_semantic("clef-G2 tuplet-3")
    with pytest.raises(KernError, match="positions"):
        to_kern("clef.G-L2", "agnostic")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("4c\n", "expected the exclusive interpretations"),
        ("**text\n", "no **kern spine"),
        ("**kern\t**kern\n4c\n", "line 2: 1 fields where 2 spines run"),
        ("**kern\n*x\n", "spine exchanges"),
        ("**kern\t**kern\n*v\t*\n", "line 2: a spine join (*v) needs a neighbour"),
        ("**kern\n*^\n4c\n", "line 3: 1 fields where 2 spines run"),
    ],
)
def test_unusable_kern_is_named(text, message):
    with pytest.raises(KernError, match=re.escape(message)):
        parse_kern(text)


def test_accidentals_as_printed_and_back():
    from quire.music.accidentals import to_printed, to_sounding
    from quire.synth.generate import MusicStyle, generate_kern

    text = "*k[f#] 4f# 4f 4f# 4fn = [4g# = 4g#] 4g 4ff#"
    printed = to_printed(text)
    assert printed == "*k[f#] 4f 4fn 4f# 4fn = [4g# = 4g] 4g 4ff"  # a tie sets no accidental
    assert to_sounding(printed) == "*k[f#] 4f# 4fn 4f# 4fn = [4g# = 4g#] 4g 4ff#"
    for seed in range(50):  # generated music comes back, naturals spelt as kern spells them
        score = parse_kern(generate_kern(seed, MusicStyle(kind="monophonic")))
        staff = staff_text(spine_tokens(score, 0))
        back = to_sounding(to_printed(staff))
        assert back.replace("n", "") == staff.replace("n", "")
        assert to_sounding(to_printed(back)) == back


def test_score_aligns_staves_by_onset_and_fills_failed_staves_with_rests():
    from fractions import Fraction

    from quire.music.score import duration, page_kern, rests, staff_records

    assert [duration([t]) for t in ("4.c", "0r", "3%2c", "8cq", "12e")] == [
        Fraction(3, 8),
        2,
        Fraction(2, 3),
        0,
        Fraction(1, 12),
    ]
    assert rests(Fraction(7, 8)) == [["2r"], ["4r"], ["8r"]]
    assert rests(Fraction(1, 12)) == [["12r"]] and rests(Fraction(2, 3)) == [["3%2r"]]
    upper = staff_records("*clefG2 *M3/4 2c 4d = 4e 4f 4g ==", "kern")
    lower = staff_records("*clefF4 *M3/4 4C 4D 4E = 2.F ==", "kern")
    kern = page_kern([[upper, lower], [upper, None]])
    records = [line.split("\t") for line in kern.splitlines()]
    assert records[3:6] == [["4C", "2c"], ["4D", "."], ["4E", "4d"]]
    second = records[records.index(["==", "=="]) + 1 :]
    assert ["*clefF4", "*clefG2"] not in second  # a system repeats clefs only when engraved
    assert second[:3] == [["2r", "2c"], ["4r", "4d"], ["=", "="]]


def test_a_reading_with_records_of_the_wrong_width_is_repaired_and_named():
    from quire.music.score import staff_records

    reading = "*clefG2 *M2/4 *^ 4c <t> 4e 4d = <t> = <t> = *v 2c ="
    with pytest.raises(KernError, match="record 5 has 1 fields where 2 voices run"):
        staff_records(reading, "kern")  # ground truth: refused
    repairs: list[str] = []
    assert staff_records(reading, "kern", repairs) == [
        ["*clefG2"],
        ["*M2/4"],
        ["*^"],
        ["4c", "4e"],
        ["4d", "."],  # the voice that holds
        ["=", "="],  # a third field left out
        ["*v", "*v"],  # the join in both voices
        ["2c"],
        ["="],
    ]
    assert repairs == [
        "record 5: 1 fields where 2 voices run",
        "record 6: 3 fields where 2 voices run",
        "record 7: 1 fields where 2 voices run",
    ]


def test_a_short_measure_that_ends_in_a_join_is_filled_in_the_voices_after_it():
    from quire.music.fit import fit_system
    from quire.music.kern import parse_kern
    from quire.music.score import page_kern, staff_records

    repairs: list[str] = []
    upper = staff_records("*clefG2 *M2/4 *^ 4c <t> 4e", "kern", repairs)  # no join read
    lower = staff_records("*clefF4 *M2/4 2C", "kern")
    fitted, changes = fit_system([upper, lower], [0.5, 0.9])
    assert fitted[0][-2:] == [["*v", "*v"], ["4r"]]  # the rest after the join, one voice
    assert changes == [["measure 1: 1/4 of rest added to fit 1/2"], []]
    assert parse_kern(page_kern([fitted])).staff_count == 2


def test_any_reading_of_a_piano_system_makes_a_score_of_well_formed_records():
    import random

    from quire.music.fit import fit_system
    from quire.music.kern import parse_kern
    from quire.music.score import page_kern, staff_records

    upper = "*clefG2 *M3/4 *^ 4c <t> 2e 4d <t> . 4e <t> 4g = 2.c <t> 2.g = *v 4c 4d 4e =="
    lower = "*clefF4 *M3/4 2.C = *^ 4D <t> 2F 4E <t> . 4F <t> 4A = *v 2.G =="
    tokens = [upper.split(" "), lower.split(" ")]
    rng = random.Random(7)
    for _ in range(300):  # readings with tokens lost, doubled or swapped
        staves = []
        for staff in tokens:
            reading = list(staff)
            for _ in range(rng.randint(1, 4)):
                k = rng.randrange(len(reading))
                action = rng.choice(("drop", "double", "swap"))
                if action == "drop" and len(reading) > 1:
                    del reading[k]
                elif action == "double":
                    reading.insert(k, reading[k])
                else:
                    reading[k] = rng.choice(staff)
            try:
                staves.append(staff_records(" ".join(reading), "kern", []))
            except KernError:
                staves.append(None)  # not music at all: rests stand in
        if not any(staves):
            continue
        fitted, _ = fit_system(staves, [0.7, 0.8])
        assert parse_kern(page_kern([fitted])).staff_count == 2
