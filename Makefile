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

# Re-runnable: it overwrites its own demo folders (--overwrite_output_dir; the demo does the same for its arms).
demo: $(STAMP)
	@echo "make demo: overwriting the demo's own folders outputs/pretrain-demo and outputs/finetune-demo/{pretrained,random}"
	$(VENV)/bin/accelerate launch --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no \
	  examples/pretrain.py --output_dir outputs/pretrain-demo --overwrite_output_dir
	$(PY) -m arvideo_hf.demo --pretrained outputs/pretrain-demo/encoder --output_dir outputs/finetune-demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) outputs .pytest_cache
