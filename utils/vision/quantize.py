"""int8 copies of the YOLO detectors for the CPU (``SNS_OPENVINO_PRECISION=int8``): NNCF's
post-training quantization of their OpenVINO export.

On a CPU without bf16 arithmetic (AVX2 only) OpenVINO computes YOLOv8m in f32 at about half
PyTorch's time, and its int8 copy at about a quarter (``benchmarks/pipeline_latency.py``). The
copy is made once from calibration photos (ultralytics' samples and the real-photo set's files
installed here) into ``<stem>_int8_openvino_model/`` beside the ``.pt`` and made again when the
``.pt`` is newer. Sigmoids, products, differences and quotients stay in floating point (SiLU
stays fused into its convolution), as do the head's box decoding and DFL, so coordinates are
not rounded to 8 bits; the convolutions' inputs and weights are.

It is not the default: on the real-photo set a real COCO YOLOv10n's int8 copy kept 88% of
PyTorch's boxes (IoU ≥ 0.9, the same class) and the label set of 48 of 59 photos
(``tests/test_runtime.py`` holds it to that). Without NNCF, or when the quantization fails,
one note says so and the floating-point export runs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from utils.paths import shown_path
from utils.photos import PhotoError, load_photo, real_photo_files
from utils.vision.runtime import export_is_fresh

CALIBRATION_PHOTOS = 64  # NNCF's statistics settle well before this; more only costs minutes


def nncf_missing() -> str | None:
    """Why no int8 copy can be made here, or None."""
    if importlib.util.find_spec("nncf") is None:
        return "the nncf package is not installed (pip install nncf)"
    return None


def int8_dir(weights: str | Path) -> Path:
    weights = Path(weights)
    return weights.with_name(f"{weights.stem}_int8_openvino_model")


def calibration_photos(limit: int = CALIBRATION_PHOTOS) -> list[Path]:
    """Real photos to calibrate with: ultralytics' samples and the real-photo set's files."""
    import ultralytics

    assets = Path(ultralytics.__file__).parent / "assets"
    return [*sorted(assets.glob("*.jpg")), *real_photo_files()][:limit]


def letterboxed(photo: Path, imgsz: int, stride: int = 32) -> np.ndarray | None:
    """``photo`` as the dynamic OpenVINO export sees it from ultralytics' predict: scaled to fit
    ``imgsz``, padded with grey to the next multiple of ``stride``, RGB in 0..1, NCHW; None for a
    photo that cannot be read."""
    from ultralytics.data.augment import LetterBox

    try:
        rgb = np.asarray(load_photo(photo))
    except PhotoError:
        return None
    padded = LetterBox((imgsz, imgsz), auto=True, stride=stride)(image=rgb)
    return np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0


def head_scope(model):
    """The layers NNCF leaves in floating point: every sigmoid, product, difference and quotient
    (SiLU's ``x * sigmoid(x)`` then stays fused into its convolution: quantizing the product
    splits them and YOLOv8m ran as slowly as in f32), and the head's sums and DFL (the box
    decoding). Ultralytics names each operation after its module (``__module.model.22/...``),
    so the head is the highest module number."""
    import nncf

    numbers = [
        int(found.group(1))
        for op in model.get_ops()
        if (found := re.search(r"model\.(\d+)/", op.get_friendly_name()))
    ]
    head = max(numbers, default=-1)
    return nncf.IgnoredScope(
        patterns=[rf".*model\.{head}/.*/Add.*", r".*\.dfl.*"],
        types=["Sigmoid", "Multiply", "Subtract", "Divide"],
        validate=False,
    )


def quantize_yolo_openvino(
    weights: str | Path, export: Path, imgsz: int, photos: Sequence[Path] | None = None
) -> Path:
    """The int8 copy of ``export`` (the OpenVINO export of ``weights``), made on first use from
    ``photos`` (default :func:`calibration_photos`) in a temporary folder beside it and moved
    into place, so a process starting meanwhile never loads half of one."""
    weights = Path(weights)
    target = int8_dir(weights)
    if export_is_fresh(target, weights):
        return target
    why = nncf_missing()
    if why is not None:
        raise RuntimeError(why)
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # "no CUDA runtime"
    import nncf
    import openvino as ov

    inputs = [x for x in (letterboxed(p, imgsz) for p in photos or calibration_photos()) if x is not None]
    if not inputs:
        raise RuntimeError("no calibration photo could be read")
    print(
        f"note: quantizing {weights.name} to int8 once, on {len(inputs)} photos (into {shown_path(target)})",
        file=sys.stderr,
        flush=True,
    )
    model = ov.Core().read_model(str(export / f"{weights.stem}.xml"))
    nncf.set_log_level(logging.ERROR)
    quantized = nncf.quantize(
        model,
        nncf.Dataset(inputs),
        preset=nncf.QuantizationPreset.MIXED,  # asymmetric activations: SiLU outputs go below zero
        subset_size=len(inputs),
        ignored_scope=head_scope(model),
    )
    with tempfile.TemporaryDirectory(dir=weights.parent, prefix=f".{weights.stem}-int8-") as tmp:
        made = Path(tmp) / target.name
        made.mkdir()
        ov.save_model(quantized, str(made / f"{weights.stem}.xml"))
        shutil.copy2(export / "metadata.yaml", made / "metadata.yaml")
        if not export_is_fresh(target, weights):  # another process may have finished first
            shutil.rmtree(target, ignore_errors=True)
            os.replace(made, target)
    return target


def agreement(expected: Sequence[Sequence], got: Sequence[Sequence]) -> tuple[int, int, int]:
    """How far two runs of a detector on the same photos agree (lists of ``Detection`` per
    photo): the boxes of ``expected``, those with a box of the same class in ``got`` at
    IoU ≥ 0.9, and the photos whose label sets are the same."""
    import torch
    from torchvision.ops import box_iou

    from utils.vision.draw import labels_for

    boxes = kept = same = 0
    for theirs, ours in zip(expected, got, strict=True):
        same += labels_for(theirs) == labels_for(ours)
        for box in theirs:
            boxes += 1
            like = [d.box for d in ours if d.label_en == box.label_en]
            kept += bool(like) and float(box_iou(torch.tensor([box.box]), torch.tensor(like)).max()) >= 0.9
    return boxes, kept, same
