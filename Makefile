# handgrad: `make train` (set-up included), `make test` and `make test-cpus`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Extra flags for `handgrad train`, e.g. make train TRAIN_ARGS="--epochs 5".
TRAIN_ARGS ?=

.PHONY: train test test-cpus lint data install bench profile clean notebooks chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime install (NumPy and friends); the stamp re-runs it when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# Test install: adds pytest and the CPU build of PyTorch (the test oracle).
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

# Fashion-MNIST: Debian's package where we may install it, else handgrad downloads and verifies it.
data: install
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || true; fi
	$(BIN)/python -m handgrad.datasets fetch fashion-mnist

train: data
	$(BIN)/handgrad train $(TRAIN_ARGS)

# The tuning tests start a real PostgreSQL server: Debian's package, installed here where it is missing and
# we may (root with apt-get); elsewhere those tests are skipped and say why.
test: $(VENV)/.installed-test
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q postgresql >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
		apt-get install -y -q postgresql >/dev/null 2>&1) || echo "could not install postgresql"; fi
	@$(MAKE) --no-print-directory chromium
	$(BIN)/python -m pytest -q

# The HTML report's screenshot test uses headless Chromium: Debian's package, installed where it is missing and we
# may (root with apt-get); elsewhere that test is skipped and says why.
chromium:
	@if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
		apt-get install -y -q chromium >/dev/null 2>&1) || echo "could not install chromium"; fi

# Execute notebooks/*.ipynb in a real Jupyter kernel on the real data set; the executed copies (outputs
# included) go to build/notebooks/, the tracked notebooks stay stripped. Prints each notebook's time.
notebooks: data $(VENV)/.installed-test
	$(BIN)/python -m tests.notebooks.execute --out build/notebooks

# The kernel, layer and fused-optimizer tests again: NumPy's AVX-512 loops off (numba compiling for Haswell), its AVX2/FMA3
# loops off too (numba compiling for a generic CPU), then on the NumPy kernels. See tests/cpu_passes.py.
test-cpus: $(VENV)/.installed-test
	$(BIN)/python tests/cpu_passes.py

# Lint: ruff with the settings of pyproject.toml ([tool.ruff]: pycodestyle, pyflakes, import order, bugbear; 120
# columns).
$(VENV)/.installed-lint: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[lint]"
	touch $@

lint: $(VENV)/.installed-lint
	$(BIN)/ruff check .

# `make bench`: handgrad against PyTorch and onnxruntime (benchmarks/throughput.py); `make bench PROFILE=1` or
# `make profile`: where the time of one step goes, part by part, against each part's limit
# (benchmarks/step_profile.py).
# Extra flags for the profile, e.g. make profile PROFILE_ARGS="--inputs 1x28x28 --batches 64".
PROFILE ?=
PROFILE_ARGS ?=

bench: $(VENV)/.installed-test
	$(if $(PROFILE),$(BIN)/python benchmarks/step_profile.py $(PROFILE_ARGS),$(BIN)/python benchmarks/throughput.py)

profile: $(VENV)/.installed-test
	$(BIN)/python benchmarks/step_profile.py $(PROFILE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache src/*.egg-info build/notebooks
