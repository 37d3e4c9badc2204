# The README's two commands: `make demo` (set up + run the main job end to end on the built-in
# demo set) and `make test` (set up everything the tests need + run the whole suite).
PY ?= python3
PIP = $(PY) -m pip
DEMO_OUT ?= runs/demo

.PHONY: setup demo test test-deps

# torch first, as the CPU wheel, unless a torch is already importable (a user's CUDA build stays).
setup:
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'

test-deps: setup
	bash tests/services.sh

demo: setup
	$(PY) -m train models --resolution 256 --model paper
	$(PY) -m train prepare --out $(DEMO_OUT)/data --resolution 64

test: test-deps
	$(PY) -m pytest -m "not gpu" -q
