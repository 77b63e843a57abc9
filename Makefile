# Two commands a fresh machine needs: `make demo` and `make test`.
# TORCH_SPEC picks the torch build (default: the CPU wheel that lies on local disk here).
# The venv gets torch first, then manifold-fm with the dev and proteins extras (the test
# suite covers manifold_fm.proteins); docs and bench add their extras on top, pinning the
# torch already installed so pip never swaps the build.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench docs clean gpu-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,proteins]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m manifold_fm.cli demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	OMP_NUM_THREADS=2 $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,proteins,bench]" "torch==$$($(PY) -c 'import torch; print(torch.__version__.split("+")[0])')"
	$(PY) -m benchmarks.speed

# the site: docs/_build/html (warnings are errors; gallery examples run small)
docs: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,proteins,docs]" "torch==$$($(PY) -c 'import torch; print(torch.__version__.split("+")[0])')"
	OMP_NUM_THREADS=2 $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

# the library end to end on one CUDA GPU + CUDA speed rows (benchmarks/speed/gpu_check.py);
# on a machine without a GPU it says so and exits 0
gpu-check: $(STAMP)
	$(PY) -m benchmarks.speed.gpu_check

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
