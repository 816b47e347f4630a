"""archsim/fileio.py: atomic replacement, stale temporaries, OS errors as one line, locks."""
import os
import threading
import time

import numpy as np
import pytest

from archsim.fileio import (STALE_TEMP_S, OutputError, atomic_write, check_writable, locked, write_json,
                            write_npz, write_text)


def test_a_failing_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    write_json(path, {"a": 1})
    before = path.read_bytes()

    def half_then_fail(fh):
        fh.write(b'{"a": 2, "b"')
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_written_files_are_complete_and_readable_by_others(tmp_path):
    write_npz(tmp_path / "w.npz", {"x": np.arange(5)}, compressed=True)
    with np.load(tmp_path / "w.npz") as data:
        assert data["x"].tolist() == [0, 1, 2, 3, 4]
    assert (tmp_path / "w.npz").stat().st_mode & 0o777 == 0o644


def test_stale_temporaries_of_killed_writers_are_removed_fresh_ones_kept(tmp_path):
    stale, fresh, other = tmp_path / ".t.json.abc.tmp", tmp_path / ".t.json.def.tmp", tmp_path / ".u.json.x.tmp"
    for p in (stale, fresh, other):
        p.write_text("partial")
    old = time.time() - STALE_TEMP_S - 10
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_text(tmp_path / "t.json", "{}")
    assert not stale.exists() and fresh.exists() and other.exists()  # only this file's temporaries


def test_os_errors_name_the_path(tmp_path):
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(OutputError, match=r"file.*a file of that name is in the way"):
        check_writable(tmp_path / "file")
    with pytest.raises(OutputError, match=r"/proc/archsim-test"):
        check_writable("/proc/archsim-test/out")
    with pytest.raises(OutputError, match=r"/file: cannot create the folder"):
        write_text(tmp_path / "file" / "x.json", "{}")


def test_locked_serialises_holders(tmp_path):
    order = []

    def hold(tag):
        with locked(tmp_path):
            order.append(f"{tag}-in")
            time.sleep(0.05)
            order.append(f"{tag}-out")

    threads = [threading.Thread(target=hold, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
