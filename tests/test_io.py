"""Atomic writes: a failing writer leaves neither a partial file nor a temporary one."""

from __future__ import annotations

import pytest

from quire.errors import InputError
from quire.io import atomic_open, atomic_write_text, interrupts_held, list_images, read_image
from tests.conftest import make_scan


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "results.tsv"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as handle:
        handle.write("half of the new con")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.tsv"]


def test_written_file_has_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "x")
    assert target.read_text() == "x"
    assert target.stat().st_mode & 0o644 == 0o644


def test_a_broken_link_among_the_images_is_listed_and_named_when_read(tmp_path):
    make_scan(tmp_path / "scans" / "page-001.png")
    (tmp_path / "scans" / "page-002.png").symlink_to(tmp_path / "moved" / "page-002.png")
    (tmp_path / "scans" / "notes.txt").write_text("not an image")
    first, broken = list_images(tmp_path / "scans")
    assert read_image(first).size == (320, 240)
    with pytest.raises(InputError, match=r"page-002\.png: broken link to .*moved/page-002\.png"):
        read_image(broken)


def test_ctrl_c_waits_for_the_file_being_written(tmp_path):
    import signal

    target = tmp_path / "state.bin"
    # Python's own Ctrl-C handler, which a process started with SIGINT ignored lacks
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), interrupts_held(), atomic_open(target) as handle:
            handle.write(b"first half ")
            signal.raise_signal(signal.SIGINT)  # Ctrl-C in the middle of the write
            handle.write(b"second half")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert target.read_bytes() == b"first half second half"
