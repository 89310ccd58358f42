"""Repository-relative paths, so no notebook or test needs ``os.chdir``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
MODELS = ROOT / "models"
NOTEBOOKS = ROOT / "notebooks"
LABELS_DIR = DATA / "labels"
PHRASES_DIR = DATA / "phrases"
TEXT_DATA = DATA / "text_data"

PROFILES = ("smoke", "cpu", "full")


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is one of :data:`PROFILES`, else raise a clear error."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return profile


def results_dir(*parts: str, profile: str, base: str | Path | None = None) -> Path:
    """Directory where a stage writes its results, created if needed.

    ``cpu`` and ``full`` write under ``models/`` (the committed results); ``smoke`` writes to a
    fresh temporary directory so a test run never overwrites them. ``base`` overrides both.
    """
    check_profile(profile)
    if base is not None:
        root = Path(base)
    elif profile == "smoke":
        root = Path(tempfile.mkdtemp(prefix="sns-smoke-"))
    else:
        root = MODELS
    out = root.joinpath(*parts)
    out.mkdir(parents=True, exist_ok=True)
    return out


def shown_path(path: str | Path) -> str:
    """``path`` relative to the repository when inside it (machine-independent in outputs)."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def package_dir(package: str, purpose: str = "") -> Path:
    """The folder of an installed package, found without importing it (real photos and weights
    ship inside packages and are used where they lie, never copied into the repository)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"package {package!r} is not installed" + (f" ({purpose})" if purpose else "")
        )
    return Path(spec.origin).parent


def save_openvino_model(model, xml: Path) -> None:
    """Save an OpenVINO model as ``xml`` and its ``.bin``, each moved into place whole, so a process
    starting meanwhile never loads half of one. A read-only checkout saves nothing (the caller
    converts again next time)."""
    import openvino

    try:
        xml.parent.mkdir(parents=True, exist_ok=True)
        partial = xml.with_name(f".{xml.stem}.{os.getpid()}.xml")
        openvino.save_model(model, str(partial), compress_to_fp16=False)
        os.replace(partial.with_suffix(".bin"), xml.with_suffix(".bin"))
        os.replace(partial, xml)
    except OSError:
        pass
