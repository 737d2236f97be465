# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and install torch==2.13.0 (the local CPU wheel) before the package,
# so no resolver ever pulls a CUDA build of torch.
VENV ?= .venv
PY := $(VENV)/bin/python
WHEELS ?= /opt/wheels
STAMP := $(VENV)/.arvideo-installed

.PHONY: install demo test clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q uv
	$(VENV)/bin/uv pip install --python $(PY) --find-links $(WHEELS) "torch==2.13.0" -e ".[train,dev]" \
	  || $(PY) -m pip install "torch==2.13.0" -e ".[train,dev]"
	touch $(STAMP)

install: $(STAMP)

# Re-runnable: the demo overwrites its own folder (outputs/demo) and says so.
demo: $(STAMP)
	$(PY) -m arvideo_hf.demo --output_dir outputs/demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) outputs .pytest_cache
