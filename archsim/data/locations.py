"""Where the full Fashion-MNIST set is looked for, fetched from and verified against.

Search order (the first folder holding all four files wins):

1. ``$ARCHSIM_DATA`` itself, then ``$ARCHSIM_DATA/fashion-mnist``;
2. the user cache, ``$XDG_CACHE_HOME/archsim/fashion-mnist`` (default ``~/.cache/...``);
3. the folders in :data:`SYSTEM_DIRS` (Debian's ``dataset-fashion-mnist`` package).

Each file may be raw or gzipped. If no folder has the set, the four ``.gz`` files are
downloaded from :data:`DOWNLOAD_URL` into the user cache (unless ``ARCHSIM_NO_DOWNLOAD``
is set), checked against the published MD5s. Whatever the origin, the decompressed
content of each file must match :data:`CONTENT_SHA256`, which does not depend on how
the file was compressed.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..cache import cache_root
from ..fileio import atomic_write
from .errors import DataError
from .idx import parse_idx, read_file_bytes

#: Array role -> base file name (the file may also carry a ``.gz`` suffix).
FILE_NAMES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: MD5 of the official ``.gz`` files, as published by Zalando Research.
PUBLISHED_GZ_MD5: dict[str, str] = {
    "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
    "test_images": "bef4ecab320f06d8554ea6380940ec79",
    "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
}

#: SHA-256 of the *decompressed* IDX bytes (computed from Debian's dataset-fashion-mnist).
CONTENT_SHA256: dict[str, str] = {
    "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

DATA_ENV = "ARCHSIM_DATA"
NO_DOWNLOAD_ENV = "ARCHSIM_NO_DOWNLOAD"
SUBDIR = "fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DOWNLOAD_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DOWNLOAD_TIMEOUT_S = 10.0

#: System-wide folders searched after the user cache (tests replace this list).
SYSTEM_DIRS: list[Path] = [Path("/usr/share/datasets/fashion-mnist")]

# (path, size, mtime_ns, expected hash) of files already verified in this process.
_VERIFIED: set[tuple[str, int, int, str]] = set()


@dataclass(frozen=True)
class SearchDir:
    """One candidate folder and why it is searched."""

    path: Path
    origin: str


@dataclass(frozen=True)
class FoundFiles:
    """The folder chosen and the path of each of the four files in it."""

    folder: Path
    origin: str
    paths: dict[str, Path]

    def describe(self) -> str:
        """One-line description of where the data came from."""
        return f"{self.folder} ({self.origin})"


def cache_dir() -> Path:
    """The user cache folder for Fashion-MNIST (inside :func:`archsim.cache.cache_root`)."""
    return cache_root() / SUBDIR


def downloads_enabled() -> bool:
    """False when ``$ARCHSIM_NO_DOWNLOAD`` is set to anything but empty/0/false/no."""
    value = os.environ.get(NO_DOWNLOAD_ENV, "").strip().lower()
    return value in ("", "0", "false", "no", "off")


def search_dirs() -> list[SearchDir]:
    """The candidate folders, in search order."""
    dirs: list[SearchDir] = []
    env = os.environ.get(DATA_ENV, "")
    if env:
        dirs += [SearchDir(Path(env), f"${DATA_ENV}"), SearchDir(Path(env) / SUBDIR, f"${DATA_ENV}")]
    dirs.append(SearchDir(cache_dir(), "user cache"))
    dirs += [SearchDir(Path(p), f"system, Debian package {DEBIAN_PACKAGE}") for p in SYSTEM_DIRS]
    return dirs


def files_in(folder: Path) -> dict[str, Path]:
    """The roles whose file exists in ``folder`` (raw name preferred over ``.gz``)."""
    found: dict[str, Path] = {}
    for role, name in FILE_NAMES.items():
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                found[role] = candidate
                break
    return found


def _scan() -> tuple[FoundFiles | None, list[str]]:
    """First complete folder (or None) and a note on every folder looked at."""
    notes: list[str] = []
    if not os.environ.get(DATA_ENV):
        notes.append(f"${DATA_ENV} (not set)")
    for cand in search_dirs():
        label = f"{cand.path} [{cand.origin}]"
        if not cand.path.is_dir():
            notes.append(f"{label}: does not exist")
            continue
        found = files_in(cand.path)
        if len(found) == len(FILE_NAMES):
            return FoundFiles(cand.path, cand.origin, found), notes
        missing = ", ".join(FILE_NAMES[r] for r in FILE_NAMES if r not in found)
        notes.append(f"{label}: has {len(found)} of 4 files (missing {missing})")
    return None, notes


def _open_url(url: str, timeout: float) -> BinaryIO:
    """Open ``url`` for reading (the single network access point; tests replace it)."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - fixed http URL


def _download_file(filename: str, dest: Path, md5: str) -> Path:
    """Fetch ``DOWNLOAD_URL + filename`` into ``dest`` atomically, checking its MD5."""
    url = DOWNLOAD_URL + filename

    def fetch(out: BinaryIO) -> None:
        digest = hashlib.md5(usedforsecurity=False)
        try:
            response = _open_url(url, DOWNLOAD_TIMEOUT_S)
        except (OSError, http.client.HTTPException) as exc:
            raise DataError(f"{url}: {exc}") from None
        with response:
            while True:
                try:
                    chunk = response.read(1 << 20)
                except (OSError, http.client.HTTPException) as exc:  # the network side; writes report themselves
                    raise DataError(f"{url}: {exc}") from None
                if not chunk:
                    break
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise DataError(f"{url}: MD5 {digest.hexdigest()} does not match the published {md5}")

    return atomic_write(dest / filename, fetch)


def download(dest: Path | None = None) -> FoundFiles:
    """Download the files missing from ``dest`` (default: the user cache)."""
    dest = cache_dir() if dest is None else dest
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    have = files_in(dest)
    try:
        for role, name in FILE_NAMES.items():
            if role not in have:
                _download_file(f"{name}.gz", dest, PUBLISHED_GZ_MD5[role])
    except BaseException:
        if created and not any(dest.iterdir()):
            dest.rmdir()  # leave no empty folder behind a failed first download
        raise
    return FoundFiles(dest, f"downloaded from {DOWNLOAD_URL}", files_in(dest))


def find_fashion_mnist() -> FoundFiles:
    """Locate the four files, downloading them if allowed; else raise one DataError."""
    found, notes = _scan()
    if found is not None:
        return found
    if downloads_enabled():
        try:
            return download()
        except (OSError, http.client.HTTPException, ValueError, DataError) as exc:
            fetch = f"download from {DOWNLOAD_URL} failed ({exc})"
        network = f"or allow network access to {DOWNLOAD_URL}"
    else:
        fetch = f"download disabled by ${NO_DOWNLOAD_ENV}"
        network = f"or unset ${NO_DOWNLOAD_ENV} and allow network access"
    names = ", ".join(FILE_NAMES.values())
    raise DataError(
        f"Fashion-MNIST (full) not found; looked in: {'; '.join(notes)}; {fetch}. "
        f"To get it: `apt-get install {DEBIAN_PACKAGE}`, or put the four IDX files "
        f"({names}, each optionally .gz) in ${DATA_ENV}, "
        f"{network} to download it into {cache_dir()}"
    )


def read_verified(role: str, path: Path) -> np.ndarray:
    """Read one file and check its decompressed SHA-256 against :data:`CONTENT_SHA256`."""
    data = read_file_bytes(path)
    st = path.stat()
    expected = CONTENT_SHA256[role]
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, expected)
    if key not in _VERIFIED:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise DataError(
                f"{path}: content SHA-256 {actual[:16]}... is not the expected "
                f"{expected[:16]}... for {FILE_NAMES[role]}: "
                "the file is corrupt or not Fashion-MNIST"
            )
        _VERIFIED.add(key)
    return parse_idx(data, path)


def load_full_arrays() -> tuple[dict[str, np.ndarray], str]:
    """The four verified arrays of the full set and a description of their origin."""
    found = find_fashion_mnist()
    arrays = {role: read_verified(role, path) for role, path in found.paths.items()}
    return arrays, found.describe()
