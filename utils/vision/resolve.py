"""Which detectors run: the caller's weights, weights under models/, the hub download, the offline set."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from utils.paths import MODELS, shown_path
from utils.vision.detectors import Detector, YoloFaceEmotionDetector, YoloObjectDetector
from utils.vision.offline import OfflineDetector, default_parts

OIV7_HUB_WEIGHTS = "yolov8m-oiv7.pt"
OIV7_LOCAL_WEIGHTS = ("yolo/weights/yolov8m-oiv7.pt", "yolo/weights/yolov8x-oiv7.pt")  # under models/
FACE_WEIGHTS_GLOB = "yolo/faces*/weights/best.pt"
# ultralytics fetches its assets from GitHub releases; the test suite points this at 127.0.0.1
# so that a test of the online path never downloads, even on a connected machine.
OIV7_HOST = os.environ.get("SNS_WEIGHTS_HOST", "github.com")


def _given(path: str | Path | None, what: str) -> Path | None:
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} weights not found: {path}")
    return path


def _trained_on_real_faces(weights: Path) -> bool:
    """Runs of the smoke and cpu profiles learn drawn faces (notebook 2): they are results to
    look at, not detectors for real photos, so only ``full`` runs (or weights placed without a
    run record) are picked up automatically."""
    record = weights.parent.parent / "metrics.json"
    if not record.exists():
        return True
    return json.loads(record.read_text(encoding="utf-8")).get("profile") == "full"


def hub_reachable(host: str = OIV7_HOST, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the weights' host answers a TCP connection within ``timeout`` seconds, and why not.
    Checked before ultralytics tries, so that a closed network costs seconds, never a hang."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as e:
        return False, f"{host} unreachable: {type(e).__name__}: {e}"
    return True, ""


def resolve_detectors(
    object_weights: str | Path | None = None,
    face_weights: str | Path | None = None,
    *,
    offline: bool,
    models_dir: str | Path = MODELS,
) -> list[Detector]:
    """The detectors to run, first that exists wins for each job (architecture.md):

    1. paths given by the caller (a missing one is an error, never silently replaced);
    2. weights under ``models_dir`` (``models/``): ``models/yolo/weights/yolov8m-oiv7.pt`` (or ``yolov8x``) and
       the newest ``models/yolo/faces*/weights/best.pt`` of a ``full`` run;
    3. the hub asset ``yolov8m-oiv7.pt`` when ``offline`` is False: ultralytics downloads it into
       ``models/yolo/weights/``, so step 2 finds it next time. When that fails, one line on stderr
       says what is used instead, why, and how to get the real one;
    4. :class:`OfflineDetector` for whatever is still missing (faces and their emotion when there
       is no four-emotion YOLO model, which has no public weights; the 80 COCO objects when there
       is no OIV7 model, or people and cats where their weights are missing), so there is always one.
    """
    object_path = _given(object_weights, "object detector")
    face_path = _given(face_weights, "face-emotion detector")
    if object_path is None:
        placed = [Path(models_dir) / name for name in OIV7_LOCAL_WEIGHTS]
        object_path = next((p for p in placed if p.is_file()), None)
    if face_path is None:
        trained = sorted(
            (p for p in Path(models_dir).glob(FACE_WEIGHTS_GLOB) if _trained_on_real_faces(p)),
            key=lambda p: p.stat().st_mtime,
        )
        face_path = trained[-1] if trained else None
    detectors: list[Detector] = []
    if object_path is not None:
        detectors.append(YoloObjectDetector(object_path))
    elif not offline:
        detectors += _download_oiv7(Path(models_dir) / OIV7_LOCAL_WEIGHTS[0])
    if face_path is not None:
        detectors.append(YoloFaceEmotionDetector(face_path))
    has_objects = any(isinstance(d, YoloObjectDetector) for d in detectors)
    missing = []
    if face_path is None:
        # OIV7 finds faces and people itself; the offline faces then only add their emotion.
        missing += ["emotion"] if has_objects else ["face", "emotion"]
    if not has_objects:
        # COCO objects (with faces), or people and cats where the COCO weights are missing
        missing += [part for part in default_parts() if part != "emotion"]
    if missing:
        detectors.append(OfflineDetector(parts=list(dict.fromkeys(missing))))
    return detectors


def _download_oiv7(target: Path) -> list[Detector]:
    """[the OIV7 detector] fetched by ultralytics into ``target``, or [] after a one-line notice."""
    reachable, why = hub_reachable()
    if reachable:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            return [YoloObjectDetector(target)]
        except ValueError as e:
            why = str(e).splitlines()[0]
    print(
        f"note: {OIV7_HUB_WEIGHTS} could not be downloaded ({why}); using the offline detectors "
        f"(80 COCO objects, faces, emotions) instead. For the 601 OIV7 objects, re-run online or place "
        f"the file at {shown_path(target)}.",
        file=sys.stderr,
        flush=True,
    )
    return []
