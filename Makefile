# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and install torch==2.13.0 before the package, so no resolver ever pulls a
# CUDA build of torch. WHEELS is an optional folder of local wheels used as a cache (skipped when it does not exist).
VENV ?= .venv
PY := $(VENV)/bin/python
WHEELS ?= /opt/wheels
STAMP := $(VENV)/.arvideo-installed
LINTED := src tests examples benchmarks reproduce

.PHONY: install demo lint test clean

# Bytecode is compiled once at install: where PYTHONDONTWRITEBYTECODE is set (as on our CI machines) every process
# would otherwise recompile each imported module from source, ~10 s per process (each test subprocess, each demo run).
# A few installed packages ship files that are not valid Python 3 (templates, old tests): compileall reports them and
# they stay uncompiled, which costs nothing, so its exit status does not fail the install.
$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip install --python $(PY) $(if $(wildcard $(WHEELS)),--find-links $(WHEELS)) \
	  "torch==2.13.0" -e ".[train,app,dev]" \
	  || $(PY) -m pip install "torch==2.13.0" -e ".[train,app,dev]"
	$(PY) -m compileall -q -j 0 $$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") \
	  > /dev/null 2>&1 || true
	touch $(STAMP)

install: $(STAMP)

# Re-runnable: the demo overwrites its own folder (outputs/demo) and says so.
demo: $(STAMP)
	$(PY) -m arvideo_hf.demo --output_dir outputs/demo

# ruff's settings are in pyproject.toml; `make test` (and so CI) fails on any finding before pytest runs.
lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)

test: lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) outputs .pytest_cache
