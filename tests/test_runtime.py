"""archsim._runtime: the process-wide BLAS thread limit."""
import pytest

from archsim import _runtime
from archsim._runtime import BLAS_THREADS_ENV, blas_threads, set_blas_threads

needs_blas = pytest.mark.skipif(blas_threads() == 0, reason="no BLAS thread pool visible to threadpoolctl")


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    """Leave the process with the thread count it had (other tests time GEMMs)."""
    monkeypatch.delenv(BLAS_THREADS_ENV, raising=False)
    before = blas_threads()
    yield
    if before > 0:
        set_blas_threads(before)


@needs_blas
def test_one_thread_applies():
    assert set_blas_threads(1) == 1
    assert blas_threads() == 1


@needs_blas
def test_default_without_env_is_one():
    assert set_blas_threads(None) == 1
    assert blas_threads() == 1


@needs_blas
def test_env_is_honoured(monkeypatch):
    monkeypatch.setenv(BLAS_THREADS_ENV, "1")
    assert set_blas_threads(None) == 1
    assert blas_threads() == 1
    monkeypatch.setenv(BLAS_THREADS_ENV, " 2 ")
    assert set_blas_threads() == 2  # the count applied (OpenBLAS may cap what it reports to its pool size)
    assert 1 <= blas_threads() <= 2


@needs_blas
def test_explicit_count_wins_over_env(monkeypatch):
    monkeypatch.setenv(BLAS_THREADS_ENV, "2")
    assert set_blas_threads(1) == 1
    assert blas_threads() == 1


@needs_blas
def test_later_call_replaces_the_limit():
    set_blas_threads(1)
    first = _runtime._LIMITER
    set_blas_threads(1)
    assert _runtime._LIMITER is not first
    assert blas_threads() == 1


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "1e3"])
def test_invalid_env_raises_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(BLAS_THREADS_ENV, value)
    with pytest.raises(ValueError, match=BLAS_THREADS_ENV) as err:
        set_blas_threads(None)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("value", [0, -1, 1.0, "2", True])
def test_invalid_count_raises(value):
    with pytest.raises(ValueError, match="positive integer"):
        set_blas_threads(value)
