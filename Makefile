# Two commands on a fresh machine: `make demo` (a small sweep on the embedded data and its report) and `make test`.
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
	$(BIN)/archsim sweep sweeps/demo.yaml --out runs/demo --resume
	$(BIN)/archsim report runs/demo --out reports/demo --force
	@echo "report: reports/demo/index.html (open it in a browser)"
	@echo "archsim is installed in $(VENV): run '. $(VENV)/bin/activate' to put it on PATH (or call $(BIN)/archsim)"

test: $(STAMP)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory hwc

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_gemm.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis

# Optional energy/area backend (archsim/cost/hwc_backend.py): hwcomponents + CACTI for SRAM banks.
# Needs Python >= 3.12 (hwcomponents does not import on 3.11); CACTI is compiled from the sdist because
# the wheel's binary needs glibc 2.38. Without a Python >= 3.12 this target prints a note and succeeds.
# Choose the interpreter with `make hwc HWC_PYTHON=/path/to/python3.12`.
HWC_VENV   := .venv-hwc
HWC_PKGS   := hwcomponents==1.0.114 hwcomponents-cacti==1.0.40
HWC_STAMP  := $(HWC_VENV)/.installed-stamp
HWC_PYTHON ?=

.PHONY: hwc
hwc:
	@ok() { "$$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }; \
	py="$(HWC_PYTHON)"; \
	if [ -n "$$py" ]; then \
	  ok "$$py" || { echo "hwc: HWC_PYTHON=$$py is not a Python >= 3.12" >&2; exit 1; }; \
	else \
	  for c in python3.12 python3.13 python3 \
	           "$$(pyenv root 2>/dev/null)"/versions/3.1[2-9]*/bin/python \
	           "$$HOME"/.pyenv/versions/3.1[2-9]*/bin/python; do \
	    if ok "$$c"; then py="$$c"; break; fi; \
	  done; \
	fi; \
	if [ -z "$$py" ]; then \
	  echo "hwc: no Python >= 3.12 found (pass HWC_PYTHON=...); skipping the optional hwcomponents backend."; \
	  exit 0; \
	fi; \
	if [ "$$(cat $(HWC_STAMP) 2>/dev/null)" != "$(HWC_PKGS)" ] || [ pyproject.toml -nt $(HWC_STAMP) ]; then \
	  echo "hwc: building $(HWC_VENV) with $$py (compiles CACTI, about a minute)"; \
	  "$$py" -m venv $(HWC_VENV) && \
	  $(HWC_VENV)/bin/python -m pip install --quiet --upgrade pip && \
	  nice $(HWC_VENV)/bin/python -m pip install --quiet --no-binary hwcomponents-cacti -e '.[test]' $(HWC_PKGS) && \
	  echo "$(HWC_PKGS)" > $(HWC_STAMP) || exit 1; \
	fi; \
	$(HWC_VENV)/bin/python -m pytest tests/test_cost_hwc.py
