# The README's two commands: `make demo` (set up + run the main job end to end on the built-in
# demo set) and `make test` (set up everything the tests need + run the whole suite).
PY ?= python3
PIP = $(PY) -m pip
RUNS ?= runs

.PHONY: setup demo test test-deps

# torch first, as the CPU wheel, unless a torch is already importable (a user's CUDA build stays).
setup:
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'

# torch-fidelity is the reference the metric tests compare against; it is installed without its
# dependencies because they would pull torchvision (and a CUDA build of torch).
test-deps: setup
	$(PIP) install -q --no-deps torch-fidelity==0.4.0
	bash tests/services.sh

# The main job end to end on the built-in demo set. Safe to run again: a finished training run
# is resumed (a no-op at its last step), finished table4 runs are reused, the study is made once.
demo: setup
	$(PY) -m train models --model paper --resolution 256
	$(PY) -m train prepare --out $(RUNS)/prepared --resolution 64
	@if [ -f $(RUNS)/demo/checkpoints/latest.pt ]; then \
	  $(PY) -m train --out $(RUNS) --resume; else $(PY) -m train --out $(RUNS); fi
	$(PY) -m export onnx $(RUNS)/demo --fp16
	$(PY) -m export sample $(RUNS)/demo/export/generator.onnx --n 64 --out $(RUNS)/demo/samples_onnx --grid
	$(PY) -m export design $(RUNS)/demo/export/generator.onnx --out $(RUNS)/demo/design --n 2
	$(PY) -m evalkit table4 --runs-dir $(RUNS)/table4 --out $(RUNS)/table4_demo --reuse
	@[ -f $(RUNS)/study.db ] || $(PY) -m study_app create --name demo --real $(RUNS)/prepared/images \
	  --model $(RUNS)/demo/export/generator.onnx --n 50 --db sqlite:///$(RUNS)/study.db
	@echo "Serve the study with: $(PY) -m study_app --db sqlite:///$(RUNS)/study.db --study demo"

test: test-deps
	$(PY) -m pytest -m "not gpu" -q
