# Every target creates .venv from requirements.txt when it is missing or older than the file.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
# Offline by default: nothing here may reach a model hub; `make demo ONLINE=1` lets ultralytics
# and Hugging Face download the full models.
ifeq ($(ONLINE),1)
OFFLINE_ENV :=
else
OFFLINE_ENV := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 YOLO_OFFLINE=1
endif

.PHONY: demo test notebooks lint format venv

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	$(OFFLINE_ENV) $(PY) -m utils comment --demo --out demo_output

test: $(STAMP)
	$(OFFLINE_ENV) $(PY) -m pytest

notebooks: $(STAMP)
	$(OFFLINE_ENV) $(PY) -m utils.notebooks --profile cpu

lint: $(STAMP)
	$(PY) -m ruff check utils tests benchmarks
	$(PY) -m ruff format --check utils tests benchmarks

format: $(STAMP)
	$(PY) -m ruff check --fix utils tests benchmarks
	$(PY) -m ruff format utils tests benchmarks
