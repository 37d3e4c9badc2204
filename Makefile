# The README's two commands: `make demo` (set up + run the main job end to end on the built-in
# demo set) and `make test` (set up everything the tests need + run the whole suite).
#
# Everything runs inside a project virtual environment, .venv (PEP 668: Debian 12 / Ubuntu 24.04
# refuse `pip install` into the system Python). `make PY=/path/to/python ...` uses another
# interpreter instead (its environment must be writable); `make clean-env` removes .venv.
BASE_PY ?= python3
VENV ?= .venv
PY ?= $(VENV)/bin/python
PIP = $(PY) -m pip
RUNS ?= runs
# The PyTorch build. Where the CPU wheel of torch 2.13.0 lies on disk (this project's machines),
# pip takes it; elsewhere pip downloads torch 2.13.0 from PyPI, which on Linux x86_64 is the CUDA
# build (several GB; what a GPU user wants) and on macOS the CPU/MPS build. A CPU-only Linux
# machine can ask for the small build: make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
# The demo's training precision (python -m train --dtype): fast = bf16 autocast wherever the device
# has it natively (GPUs from Ampere on; CPUs with avx512_bf16 or amx_bf16: AMD Zen 4, Intel Sapphire
# Rapids) and fp32 elsewhere; about 1.6-1.9x faster per iteration on such a CPU (results/train_bench.md).
# make demo DTYPE=fp32 trains every model in fp32.
DTYPE ?= fast

.PHONY: setup venv demo test test-deps clean-env

# Create .venv unless PY names another interpreter.
venv:
	@if [ "$(PY)" = "$(VENV)/bin/python" ] && [ ! -x "$(PY)" ]; then \
	  echo "creating the project environment $(VENV) with $(BASE_PY)" >&2; \
	  $(BASE_PY) -m venv $(VENV); fi
	@$(PY) -c "import sys; assert sys.version_info >= (3, 11), 'Python >= 3.11 needed, found ' + sys.version" || \
	  { echo "error: $(PY) is older than Python 3.11; pass BASE_PY=python3.11 (or PY=...)" >&2; exit 2; }

# torch first (TORCH_SPEC, from TORCH_INDEX when given), unless a torch is already importable
# there (a user's own CUDA build stays); then this package with its test extra.
setup: venv
	@$(PY) -c "import torch" 2>/dev/null || \
	  $(PIP) install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(PIP) install -q -e '.[test]'

# torch-fidelity is the reference the metric tests compare against; it is installed without its
# dependencies because they would pull torchvision (and a CUDA build of torch).
test-deps: setup
	$(PIP) install -q --no-deps torch-fidelity==0.4.0
	bash tests/services.sh

# The main job end to end on the built-in demo set. Safe to run again: a finished training run
# is resumed (a no-op at its last step), finished table4 runs are reused, the study is made once.
# The demo preset trains FastGAN (train.fastgan) at 64 px: its samples, design sheets and study;
# Table 4 trains the paper model, DCGAN, the MLP GAN and FastGAN side by side.
demo: setup
	$(PY) -m train models --model paper --resolution 256
	$(PY) -m train models --model fastgan --resolution 64
	$(PY) -m train prepare --out $(RUNS)/prepared --resolution 64
	@if [ -f $(RUNS)/demo/checkpoints/latest.pt ]; then \
	  $(PY) -m train --out $(RUNS) --dtype $(DTYPE) --resume; else $(PY) -m train --out $(RUNS) --dtype $(DTYPE); fi
	$(PY) -m export onnx $(RUNS)/demo --fp16
	$(PY) -m export sample $(RUNS)/demo/export/generator.onnx --n 64 --out $(RUNS)/demo/samples_onnx --grid
	$(PY) -m export design $(RUNS)/demo/export/generator.onnx --out $(RUNS)/demo/design --n 2
	$(PY) -m evalkit table4 --runs-dir $(RUNS)/table4 --out $(RUNS)/table4_demo --dtype $(DTYPE) --reuse
	@[ -f $(RUNS)/study.db ] || $(PY) -m study_app create --name demo --real $(RUNS)/prepared/images \
	  --model $(RUNS)/demo/export/generator.onnx --n 50 --db sqlite:///$(RUNS)/study.db
	@echo "Serve the study with: $(PY) -m study_app --db sqlite:///$(RUNS)/study.db --study demo"

test: test-deps
	$(PY) -m pytest -m "not gpu" -q

clean-env:
	rm -rf $(VENV)
