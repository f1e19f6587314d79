"""Atomic writes: a failing writer leaves neither a partial file nor a temporary one."""

from __future__ import annotations

import pytest

from quire.io import atomic_open, atomic_write_text


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
