"""Shared test set-up: no network, fast malloc, one BLAS thread, a hypothesis profile that keeps the
suite quick, and private cache and data folders for every test whatever the environment says."""
import os

import pytest
from hypothesis import HealthCheck, settings

from archsim._runtime import set_blas_threads, tune_malloc

os.environ["ARCHSIM_NO_DOWNLOAD"] = "1"
tune_malloc()
set_blas_threads(1)
settings.register_profile("archsim", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "archsim"))

USER_LOCATIONS = ("ARCHSIM_CACHE", "ARCHSIM_DATA", "XDG_CACHE_HOME", "ARCHSIM_BLAS_THREADS", "ARCHSIM_MEMORY_BYTES")


@pytest.fixture(autouse=True)
def _private_user_folders(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and an empty data folder: nothing reads or writes the user's."""
    root = tmp_path_factory.mktemp("user")
    for name in USER_LOCATIONS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARCHSIM_CACHE", str(root / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "xdg"))
    monkeypatch.setenv("ARCHSIM_DATA", str(root / "data"))
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("ARCHSIM_NO_DOWNLOAD", "1")
