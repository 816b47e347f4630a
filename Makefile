# Two commands on a fresh machine: `make demo` (train on the embedded data) and `make test`.
# Each creates .venv and installs archsim with what it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# glibc: keep large numpy temporaries on the heap (fresh mmaps make some ops ~20x slower here)
export MALLOC_MMAP_THRESHOLD_ := 1073741824
export MALLOC_TRIM_THRESHOLD_ := 1073741824

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/archsim train --workload workloads/lenet5_wage.yaml --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_gemm.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
