# Two commands set everything up on a fresh machine: `make quickstart` and `make test`.
# The first call creates .venv, installs the pinned CPU build of torch first (override with
# `make TORCH_SPEC='torch==X.Y --index-url ...'` elsewhere), then the toolkit itself with the
# EXTRAS it names: the simulators of the examples and of Reach (`mujoco`, `box2d`, `miniworld`:
# small wheels) by default, so their tests run instead of skipping; `make EXTRAS=dev test` leaves
# them out (those tests then skip, naming the extra).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,mujoco,box2d,miniworld
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed.$(EXTRAS)

.PHONY: install quickstart test test-slow bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/darla run quickstart

test: $(STAMP)
	$(BIN)/ruff check artifacts darla envs vision agents eval tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV) runs *.egg-info
