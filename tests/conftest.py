"""Test-wide settings: never touch the network or the user's config directories."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
# A test of the online path tries this host first: a closed local port, so nothing is ever fetched.
os.environ.setdefault("SNS_WEIGHTS_HOST", "127.0.0.1")
os.environ.setdefault("MPLBACKEND", "Agg")
# ultralytics writes settings (and would fetch fonts) under its config dir: keep it private.
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "sns-yolo-config"))
for key in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
    os.environ.pop(key, None)
