"""Tests for archsim.data: IDX files, search order, downloads (faked), the mini set."""
from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from archsim.data import DataError, Dataset, load_dataset, read_idx, write_idx
from archsim.data import datasets, locations
from archsim.data.idx import encode_idx
from archsim.data.make_mini import TEST_PER_CLASS, TRAIN_PER_CLASS, build_mini, select_stratified

REAL_SYSTEM_DIRS = list(locations.SYSTEM_DIRS)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No network, no $ARCHSIM_DATA, a private cache and system folder for every test."""
    monkeypatch.setenv("ARCHSIM_NO_DOWNLOAD", "1")
    monkeypatch.delenv("ARCHSIM_DATA", raising=False)
    monkeypatch.delenv("ARCHSIM_CACHE", raising=False)  # these tests locate the cache through XDG_CACHE_HOME
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(locations, "SYSTEM_DIRS", [tmp_path / "system"])

    def no_network(url: str, timeout: float) -> None:
        raise AssertionError(f"test tried to open {url}")

    monkeypatch.setattr(locations, "_open_url", no_network)


def synthetic_arrays(marker: int = 0) -> dict[str, np.ndarray]:
    """Tiny Fashion-MNIST-shaped arrays; ``marker`` makes each set distinguishable."""
    rng = np.random.default_rng(marker)
    return {
        "train_images": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(20) % 10).astype(np.uint8),
        "test_images": np.full((10, 28, 28), marker, dtype=np.uint8),
        "test_labels": np.arange(10, dtype=np.uint8),
    }


def write_set(folder: Path, marker: int = 0, gz: bool = True) -> dict[str, np.ndarray]:
    """Write the four files of a synthetic set into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = synthetic_arrays(marker)
    for role, name in locations.FILE_NAMES.items():
        write_idx(folder / (name + (".gz" if gz else "")), arrays[role])
    return arrays


def trust(monkeypatch: pytest.MonkeyPatch, arrays: dict[str, np.ndarray]) -> None:
    """Make the content check accept ``arrays`` instead of the real Fashion-MNIST."""
    sums = {role: hashlib.sha256(encode_idx(a)).hexdigest() for role, a in arrays.items()}
    monkeypatch.setattr(locations, "CONTENT_SHA256", sums)


# ---------------------------------------------------------------- IDX format


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-128, 0, 127], dtype=np.int8),
        np.array([[-30000, 2], [3, 30000]], dtype=np.int16),
        np.array([-(2**31), 2**31 - 1], dtype=np.int32),
        np.array([1.5, -2.25], dtype=np.float32),
        np.array([[np.pi]], dtype=np.float64),
    ],
    ids=["u8", "i8", "i16", "i32", "f32", "f64"],
)
def test_idx_round_trip(tmp_path: Path, array: np.ndarray, gz: bool) -> None:
    path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), array)
    assert path.read_bytes().startswith(b"\x1f\x8b") == gz
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert not back.flags.writeable


def test_idx_big_endian_on_disk(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.array([1, 258], dtype=np.int16))
    assert path.read_bytes() == b"\x00\x00\x0b\x01\x00\x00\x00\x02\x00\x01\x01\x02"


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    array = np.arange(6, dtype=np.uint8)
    zipped = write_idx(tmp_path / "plain-name", array, compress=True)
    raw = write_idx(tmp_path / "looks.gz", array, compress=False)
    np.testing.assert_array_equal(read_idx(zipped), array)
    np.testing.assert_array_equal(read_idx(raw), array)


GOOD = encode_idx(np.zeros((3, 2, 2), dtype=np.uint8))
BAD_FILES = {
    "empty": (b"", "too short"),
    "short": (b"\x00\x00", "too short"),
    "magic": (b"\x01\x02" + GOOD[2:], "not an IDX file"),
    "dtype": (b"\x00\x00\x07" + GOOD[3:], "unknown IDX dtype code 0x07"),
    "no-dims": (b"\x00\x00\x08\x00", "0 dimensions"),
    "header": (GOOD[:10], "truncated header"),
    "payload": (GOOD[:-7], "truncated: header says 3x2x2 = 12 bytes, file has 5"),
    "trailing": (GOOD + b"\x00", "trailing bytes"),
    "gzip-garbage": (b"\x1f\x8b" + b"not really gzip", "gzip"),
    "gzip-cut": (gzip.compress(GOOD)[:-9], "gzip"),
    "gzip-payload": (gzip.compress(GOOD[:-1]), "truncated: header says 3x2x2"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_idx_names_file_and_problem(tmp_path: Path, case: str) -> None:
    content, expected = BAD_FILES[case]
    path = tmp_path / f"{case}-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_unreadable_idx(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "absent")


# ---------------------------------------------------------------- search order


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir, system_dir = tmp_path / "env", tmp_path / "system"
    cache = tmp_path / "xdg" / "archsim" / "fashion-mnist"
    for i, folder in enumerate((env_dir, cache, system_dir)):
        write_set(folder, marker=i)
    monkeypatch.setenv("ARCHSIM_DATA", str(env_dir))
    assert locations.cache_dir() == cache
    assert locations.find_fashion_mnist().folder == env_dir
    monkeypatch.setenv("ARCHSIM_DATA", str(tmp_path / "elsewhere"))
    assert locations.find_fashion_mnist().folder == cache
    (cache / "t10k-labels-idx1-ubyte.gz").unlink()  # an incomplete folder is skipped
    found = locations.find_fashion_mnist()
    assert found.folder == system_dir and "dataset-fashion-mnist" in found.origin


def test_archsim_data_subfolder_and_raw_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = write_set(tmp_path / "root" / "fashion-mnist", marker=5, gz=False)
    write_set(tmp_path / "system", marker=6)
    monkeypatch.setenv("ARCHSIM_DATA", str(tmp_path / "root"))
    trust(monkeypatch, arrays)
    ds = load_dataset("fashion_mnist", "full")
    assert str(tmp_path / "root" / "fashion-mnist") in ds.source
    for role, array in arrays.items():
        np.testing.assert_array_equal(getattr(ds, role), array)
    assert ds.image_shape == (28, 28) and ds.num_classes == 10


def test_missing_data_lists_every_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    write_idx(env_dir / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8))
    monkeypatch.setenv("ARCHSIM_DATA", str(env_dir))
    with pytest.raises(DataError) as info:
        load_dataset("fashion_mnist", "full")
    msg = str(info.value)
    assert "\n" not in msg
    for folder in (env_dir, env_dir / "fashion-mnist", locations.cache_dir(), tmp_path / "system"):
        assert str(folder) in msg
    assert "has 1 of 4 files" in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "$ARCHSIM_DATA" in msg and "ARCHSIM_NO_DOWNLOAD" in msg and "network" in msg


def test_missing_data_without_env(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\$ARCHSIM_DATA \(not set\)"):
        locations.find_fashion_mnist()


def test_wrong_content_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_set(tmp_path / "env")
    monkeypatch.setenv("ARCHSIM_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError, match="corrupt or not Fashion-MNIST") as info:
        load_dataset("fashion_mnist", "full")
    assert str(tmp_path / "env" / "train-images-idx3-ubyte.gz") in str(info.value)


@pytest.mark.parametrize(
    ("value", "enabled"), [(None, True), ("", True), ("0", True), ("1", False), ("yes", False)]
)
def test_no_download_switch(monkeypatch: pytest.MonkeyPatch, value: str | None, enabled: bool) -> None:
    if value is None:
        monkeypatch.delenv("ARCHSIM_NO_DOWNLOAD")
    else:
        monkeypatch.setenv("ARCHSIM_NO_DOWNLOAD", value)
    assert locations.downloads_enabled() is enabled


# ---------------------------------------------------------------- downloads (faked, no network)


def fake_server(monkeypatch: pytest.MonkeyPatch, arrays: dict[str, np.ndarray]) -> list[str]:
    """Serve gzipped ``arrays`` at the official URLs; returns the list of URLs requested."""
    files = {f"{locations.FILE_NAMES[r]}.gz": gzip.compress(encode_idx(a)) for r, a in arrays.items()}
    requested: list[str] = []

    def open_url(url: str, timeout: float) -> io.BytesIO:
        assert url.startswith(locations.DOWNLOAD_URL) and timeout <= 10
        requested.append(url)
        return io.BytesIO(files[url.removeprefix(locations.DOWNLOAD_URL)])

    md5 = {r: hashlib.md5(files[f"{n}.gz"]).hexdigest() for r, n in locations.FILE_NAMES.items()}
    monkeypatch.setattr(locations, "_open_url", open_url)
    monkeypatch.setattr(locations, "PUBLISHED_GZ_MD5", md5)
    monkeypatch.delenv("ARCHSIM_NO_DOWNLOAD")
    return requested


def test_download_into_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = synthetic_arrays(7)
    requested = fake_server(monkeypatch, arrays)
    trust(monkeypatch, arrays)
    ds = load_dataset("fashion_mnist", "full")
    assert "downloaded" in ds.source and len(requested) == 4
    cache = locations.cache_dir()
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in locations.FILE_NAMES.values())
    np.testing.assert_array_equal(ds.test_images, arrays["test_images"])
    assert locations.find_fashion_mnist().origin == "user cache"  # second time: no download


def test_download_bad_md5_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_server(monkeypatch, synthetic_arrays())
    monkeypatch.setitem(locations.PUBLISHED_GZ_MD5, "train_images", "0" * 32)
    with pytest.raises(DataError, match="MD5") as info:
        locations.find_fashion_mnist()
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert not locations.cache_dir().exists()


def test_download_network_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ARCHSIM_NO_DOWNLOAD")

    def offline(url: str, timeout: float) -> None:
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(locations, "_open_url", offline)
    with pytest.raises(DataError) as info:
        load_dataset("fashion_mnist", "full")
    msg = str(info.value)
    assert "Name or service not known" in msg and str(tmp_path / "system") in msg
    assert "allow network access" in msg
    assert not locations.cache_dir().exists()


def test_partial_download_keeps_good_files(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_server(monkeypatch, synthetic_arrays())
    monkeypatch.setitem(locations.PUBLISHED_GZ_MD5, "test_images", "0" * 32)
    with pytest.raises(DataError, match="MD5"):
        locations.find_fashion_mnist()
    names = sorted(p.name for p in locations.cache_dir().iterdir())
    assert names == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]  # no .part file


# ---------------------------------------------------------------- datasets and the mini set


def test_unknown_name_or_variant() -> None:
    with pytest.raises(DataError, match="known: fashion_mnist"):
        load_dataset("mnist")
    with pytest.raises(DataError, match="known: mini, full"):
        load_dataset("fashion_mnist", "huge")


def test_dataset_validates_arrays() -> None:
    arrays = synthetic_arrays()
    arrays["train_labels"] = arrays["train_labels"].astype(np.int64)
    with pytest.raises(DataError, match="train labels"):
        Dataset("x", "y", **arrays, source="test")


def test_dataset_arrays_read_only_views() -> None:
    arrays = synthetic_arrays()
    ds = Dataset("x", "y", **arrays, source="test")
    assert not ds.train_images.flags.writeable and arrays["train_images"].flags.writeable
    assert "train_images" not in repr(ds)


def test_mini_set_shapes_and_strata() -> None:
    ds = load_dataset()
    assert (ds.name, ds.variant) == ("fashion_mnist", "mini")
    assert ds.train_images.shape == (4000, 28, 28) and ds.test_images.shape == (1000, 28, 28)
    assert ds.train_images.dtype == ds.train_labels.dtype == np.uint8
    assert ds.train_labels.shape == (4000,) and ds.test_labels.shape == (1000,)
    assert np.bincount(ds.train_labels).tolist() == [TRAIN_PER_CLASS] * 10
    assert np.bincount(ds.test_labels).tolist() == [TEST_PER_CLASS] * 10
    assert ds.num_classes == 10 and ds.image_shape == (28, 28)
    mini = datasets.read_mini()
    for key in ("train_indices", "test_indices"):
        assert np.all(np.diff(mini[key]) > 0)


def test_mini_set_is_deterministic() -> None:
    a, b = load_dataset(), load_dataset()
    for role in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(a, role), getattr(b, role))
    labels = np.repeat(np.arange(10, dtype=np.uint8), 30)
    picks = [select_stratified(labels, 5, np.random.Generator(np.random.PCG64(20181))) for _ in range(2)]
    np.testing.assert_array_equal(picks[0], picks[1])
    assert np.bincount(labels[picks[0]]).tolist() == [5] * 10


def test_corrupt_mini_is_rejected(tmp_path: Path) -> None:
    arrays = dict(datasets.read_mini())
    arrays["test_images"] = arrays["test_images"].copy()
    arrays["test_images"][0, 0, 0] ^= 1
    bad = tmp_path / "mini.npz"
    np.savez_compressed(bad, **arrays)
    with pytest.raises(DataError, match="test_images.*corrupt") as info:
        datasets.read_mini(bad)
    assert str(bad) in str(info.value)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match=str(junk)):
        datasets.read_mini(junk)


def test_mini_matches_full_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locations, "SYSTEM_DIRS", REAL_SYSTEM_DIRS)
    if locations._scan()[0] is None:
        pytest.skip("full Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    full = load_dataset("fashion_mnist", "full")
    assert full.train_images.shape == (60000, 28, 28) and full.test_images.shape == (10000, 28, 28)
    mini = datasets.read_mini()
    for split in ("train", "test"):
        idx = mini[f"{split}_indices"]
        np.testing.assert_array_equal(getattr(full, f"{split}_labels")[idx], mini[f"{split}_labels"])
        np.testing.assert_array_equal(getattr(full, f"{split}_images")[idx], mini[f"{split}_images"])
    rebuilt = build_mini(full)
    assert {k: datasets.array_sha256(v) for k, v in rebuilt.items()} == datasets.MINI_SHA256
