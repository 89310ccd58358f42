"""Which trained text model the pipeline uses: the caller's, one trained under ``models/``
(``full`` runs first, then the lowest val loss), or the small T5 shipped in ``models/default_t5``."""

from __future__ import annotations

import json
from pathlib import Path

from utils.paths import MODELS

DEFAULT_COMMENT_MODEL = MODELS / "default_t5"
# Trained text models the pipeline prefers over the shipped default (ranked by their run records).
TRAINED_COMMENT_MODELS = (
    MODELS / "t5" / "transfer_1_large_colab" / "best",
    MODELS / "t5" / "transfer_1" / "best",
    MODELS / "t5" / "transfer_2_coverage" / "best",
    MODELS / "t5" / "transfer_0" / "best",
)


def _has_weights(model_dir: Path) -> bool:
    return (model_dir / "config.json").exists() and any(model_dir.glob("*.safetensors"))


def resolve_comment_model(lm_dir: str | Path | None = None) -> Path | None:
    """The text model directory to use: the caller's, a trained one under models/, or the
    shipped default; None when none exists (the offline composer then writes the comment)."""
    if lm_dir is not None:
        path = Path(lm_dir)
        if not _has_weights(path):
            raise FileNotFoundError(
                f"no trained text model in {path} (expected config.json and *.safetensors)"
            )
        return path
    trained = sorted((p for p in TRAINED_COMMENT_MODELS if _has_weights(p)), key=_rank)
    if trained:
        return trained[0]
    return DEFAULT_COMMENT_MODEL if _has_weights(DEFAULT_COMMENT_MODEL) else None


def _rank(model_dir: Path) -> tuple[int, float]:
    """``full`` runs (pretrained models) before smaller profiles, then the lowest val loss; a
    model without a run record comes after those with one."""
    record = model_dir.parent / "run.json"
    if not record.exists():
        return (1, float("inf"))
    run = json.loads(record.read_text(encoding="utf-8"))
    return (0 if run.get("profile") == "full" else 1, run.get("best_val_loss") or float("inf"))
