"""The optional hwcomponents/CACTI SRAM backend (archsim.cost.hwc_backend).

Tests that need hwcomponents skip without it (Python 3.11, CI); run them with `make hwc`.
The tests for argument checks and the missing-package error run on any Python.
"""
from __future__ import annotations

import itertools
import json
import sys

import pytest

from archsim.cost import hwc_backend

# CACTI through hwcomponents-cacti 1.0.40, one bank, 64-bit words, 45 nm
# (docs/cost-sources.md, "SRAM"): read pJ, write pJ, area mm2, leakage mW.
EXPECTED_45NM_64B = {
    8 * 1024: (6.137, 7.8781, 0.026267, 0.25679e-3),
    32 * 1024: (17.042, 15.398, 0.09486, 0.92391e-3),
    1024 * 1024: (93.519, 76.183, 3.2628, 24.963e-3),
}


@pytest.fixture
def hwc() -> None:
    """Skip unless hwcomponents and its CACTI package are installed."""
    pytest.importorskip("hwcomponents")
    pytest.importorskip("hwcomponents_cacti")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One memo folder for the tests that only read numbers, so each CACTI run happens once."""
    return str(tmp_path_factory.mktemp("hwc-cache"))


@pytest.mark.parametrize("capacity_bytes", sorted(EXPECTED_45NM_64B))
def test_45nm_matches_reference(hwc, shared_cache, monkeypatch, capacity_bytes):
    monkeypatch.setenv(hwc_backend.CACHE_ENV, shared_cache)
    cost = hwc_backend.sram_cost(capacity_bytes, 64, 45)
    got = (cost.read_pj_per_access, cost.write_pj_per_access, cost.area_mm2, cost.leakage_mw)
    assert got == pytest.approx(EXPECTED_45NM_64B[capacity_bytes], rel=0.01)
    assert "CACTI" in cost.source and "45 nm" in cost.source


def test_bigger_bank_costs_more(hwc, shared_cache, monkeypatch):
    monkeypatch.setenv(hwc_backend.CACHE_ENV, shared_cache)
    costs = [hwc_backend.sram_cost(c, 64, 45) for c in sorted(EXPECTED_45NM_64B)]
    for small, big in itertools.pairwise(costs):
        assert big.read_pj_per_access > small.read_pj_per_access
        assert big.area_mm2 > small.area_mm2


def test_memo_file_written_and_reused(hwc, tmp_path, monkeypatch):
    monkeypatch.setenv(hwc_backend.CACHE_ENV, str(tmp_path))
    first = hwc_backend.sram_cost(8 * 1024, 64, 45)
    path = tmp_path / hwc_backend.CACHE_FILE_NAME
    data = json.loads(path.read_text())
    (key,) = data["entries"]
    assert "hwcomponents-cacti=" in key and "node_nm=45" in key
    # no temporary left (the lock file that serialises writers stays)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == [hwc_backend.CACHE_FILE_NAME]

    def no_cacti(*args, **kwargs):
        raise AssertionError("CACTI ran although the memo holds the answer")

    monkeypatch.setattr(hwc_backend, "_run_cacti", no_cacti)
    assert hwc_backend.sram_cost(8 * 1024, 64, 45) == first


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv(hwc_backend.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert hwc_backend.cache_path() == tmp_path / "archsim" / hwc_backend.CACHE_FILE_NAME
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert hwc_backend.cache_path() == tmp_path / ".cache" / "archsim" / hwc_backend.CACHE_FILE_NAME
    monkeypatch.setenv(hwc_backend.CACHE_ENV, str(tmp_path / "own"))
    assert hwc_backend.cache_path() == tmp_path / "own" / hwc_backend.CACHE_FILE_NAME


def test_missing_hwcomponents_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(hwc_backend.CACHE_ENV, str(tmp_path))
    for name in ("hwcomponents", "hwcomponents_cacti"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` raise ImportError
    assert not hwc_backend.available()
    with pytest.raises(RuntimeError, match=r"make hwc.*pip install --no-binary hwcomponents-cacti"):
        hwc_backend.sram_cost(8 * 1024, 64, 45)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args", [(8 * 1024, 64, 5), (8 * 1024, 64, 130), (8 * 1024, 0, 45),
                                  (100, 64, 45), (8 * 1024.0, 64, 45)])
def test_bad_arguments(args):
    with pytest.raises(ValueError):
        hwc_backend.sram_cost(*args)


def test_default_table_agrees_with_cacti_on_every_shipped_bank(hwc, shared_cache, monkeypatch):
    """archsim's own SRAM table against a live CACTI run, bank by bank, at each config's node."""
    from pathlib import Path

    from archsim.config.hardware import load_hardware
    from archsim.cost.table import CostTable

    monkeypatch.setenv(hwc_backend.CACHE_ENV, shared_cache)
    table = CostTable.load()
    for path in sorted(Path("hwconfigs").glob("*.yaml")):
        hw = load_hardware(path)
        for bank in hw.banks:
            ours = table.sram(bank.capacity_bytes, bank.word_bits, hw.technology_nm)
            cacti = hwc_backend.sram_cost(bank.capacity_bytes, bank.word_bits, hw.technology_nm)
            for mine, theirs in ((ours.read_pj_per_access, cacti.read_pj_per_access),
                                 (ours.write_pj_per_access, cacti.write_pj_per_access),
                                 (ours.area_mm2, cacti.area_mm2)):
                assert abs(mine / theirs - 1) <= 0.25, (hw.name, bank.name, mine, theirs)
