"""Detectors behind one interface: photos in, Korean-labelled detections out.

- :class:`YoloObjectDetector`: ultralytics YOLO on Open Images V7 (601 classes) → Korean names;
- :class:`YoloFaceEmotionDetector`: the face model trained in notebook 2 (분노, 슬픔, 공포, 기쁨);
- :class:`OpenCVFallbackDetector`: what works with no weights at all — the Haar cascades and
  the HOG people detector that ship inside OpenCV (faces, smiles → 기쁨, people, cat faces).

:func:`resolve_detectors` picks them in the order of architecture.md; :func:`labels_for` turns
detections into the label string; :func:`annotate` draws boxes with Hangul captions.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from utils import labels as label_vocab
from utils.paths import MODELS, shown_path

# PhotoError and load_photo are part of this module's interface (utils.pipeline calls vision.load_photo).
from utils.photos import MAX_SIDE as MAX_SIDE
from utils.photos import PhotoError as PhotoError
from utils.photos import load_photo as load_photo
from utils.photos import to_rgb8
from utils.plots import korean_font_path

OIV7_HUB_WEIGHTS = "yolov8m-oiv7.pt"
OIV7_LOCAL_WEIGHTS = ("yolo/weights/yolov8m-oiv7.pt", "yolo/weights/yolov8x-oiv7.pt")  # under models/
FACE_WEIGHTS_GLOB = "yolo/faces*/weights/best.pt"
FALLBACK_PARTS = ("face", "smile", "body", "cat")


@dataclass
class Detection:
    label_ko: str
    label_en: str
    confidence: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the image given to detect()
    source: str


class Detector(ABC):
    """Common interface: ``detect(images)`` returns one list of detections per image."""

    name: str
    conf: float

    @abstractmethod
    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, conf={self.conf})"


def keep_ultralytics_offline() -> Path:
    """Stop ultralytics from downloading fonts or sending analytics; returns its config dir.

    ultralytics' ``check_font`` looks for Arial.ttf / Arial.Unicode.ttf in its config dir and
    downloads them when missing (plots, dataset checks). A copy of NanumGothic under those names
    satisfies it offline and also renders Hangul class names.
    """
    from ultralytics.utils import SETTINGS, USER_CONFIG_DIR

    font = korean_font_path()
    USER_CONFIG_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = USER_CONFIG_DIR / name
        if not target.exists():
            shutil.copyfile(font, target)
    if SETTINGS.get("sync", True):
        SETTINGS.update({"sync": False})
    return USER_CONFIG_DIR


class _YoloDetector(Detector):
    """Shared part of the ultralytics detectors: loading, batched predict, label lookup."""

    def __init__(self, weights: str | Path, *, conf: float = 0.25, imgsz: int | None = None) -> None:
        """``imgsz=None`` predicts at the size the model was trained at (640 for the hub models)."""
        keep_ultralytics_offline()
        from ultralytics import YOLO

        path = Path(weights)
        self.weights = str(weights)
        self.conf = conf
        self.imgsz = imgsz
        try:
            self.model = YOLO(self.weights)
        except Exception as e:  # ultralytics raises many kinds for a bad or foreign file
            raise ValueError(f"{weights}: cannot load YOLO weights ({type(e).__name__}: {e})") from e
        shown = shown_path(path) if path.exists() else self.weights
        self.name = f"{path.stem} ({shown})"
        self.class_labels = self._class_labels(dict(self.model.names))

    @abstractmethod
    def _class_labels(self, names: dict[int, str]) -> dict[int, tuple[str, str]]:
        """Model class id → (Korean label, English label)."""

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        if not images:
            return []
        size = {"imgsz": self.imgsz} if self.imgsz else {}
        results = self.model.predict([to_rgb8(im) for im in images], conf=self.conf, verbose=False, **size)
        out = []
        for result in results:
            boxes = result.boxes
            found = []
            for xyxy, score, cls in zip(
                boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist(), strict=True
            ):
                ko, en = self.class_labels[int(cls)]
                found.append(Detection(ko, en, float(score), tuple(float(v) for v in xyxy), self.name))
            out.append(found)
        return out


class YoloObjectDetector(_YoloDetector):
    """YOLOv8 trained on Open Images V7 (``yolov8m-oiv7.pt`` / ``yolov8x-oiv7.pt``).

    Class names are translated with :mod:`utils.labels` by English name; a 601-class model
    with names outside the vocabulary is read by class id; other models (e.g. LVIS) keep
    their English names."""

    def _class_labels(self, names: dict[int, str]) -> dict[int, tuple[str, str]]:
        by_id = len(names) == len(label_vocab.oiv7_classes())
        table = {}
        for class_id, en in names.items():
            try:
                ko = label_vocab.ko_name(en)
            except label_vocab.UnknownLabelError:
                ko = label_vocab.ko_name(class_id) if by_id else en
            table[class_id] = (ko, en)
        return table


class YoloFaceEmotionDetector(_YoloDetector):
    """The four-class face model (class ids in :data:`utils.labels.EMOTIONS` order)."""

    def _class_labels(self, names: dict[int, str]) -> dict[int, tuple[str, str]]:
        if len(names) != len(label_vocab.EMOTIONS):
            raise ValueError(
                f"{self.weights}: a face-emotion model needs {len(label_vocab.EMOTIONS)} classes "
                f"({', '.join(label_vocab.EMOTION_EN)}), this one has {len(names)}"
            )
        table = {}
        for class_id, name in names.items():
            expected = label_vocab.EMOTIONS[class_id]
            try:
                named = label_vocab.ko_name(name)
            except label_vocab.UnknownLabelError:
                named = expected.ko  # numeric or custom names: trust the class order
            if named != expected.ko:
                raise ValueError(
                    f"{self.weights}: class {class_id} is {name!r}, expected {expected.en} ({expected.ko})"
                )
            table[class_id] = (expected.ko, expected.en)
        return table


@lru_cache(maxsize=8)
def _cascade(file_name: str):
    import cv2

    if not hasattr(cv2, "CascadeClassifier"):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no CascadeClassifier (moved to contrib in 5.x); "
            'install "opencv-python<5" for the offline fallback detector'
        )
    path = Path(cv2.data.haarcascades) / file_name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV cascade {path} is missing or unreadable")
    return cascade


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class OpenCVFallbackDetector(Detector):
    """Offline fallback built from what ships inside OpenCV 4 (no weights to download).

    faces (frontal Haar cascade) → 인간의 얼굴; a smile inside a face → 기쁨 (box = the face);
    people (HOG pedestrian detector; OpenCV's full-body Haar cascade found nobody in
    ultralytics' bus.jpg) → 사람; cat faces → 고양이. Cascade scores are mapped to (0, 1)
    with a sigmoid so one ``conf`` threshold applies to all parts.
    """

    face_side = 800  # faces and smiles are searched on a copy at most this large
    cat_side = 640
    body_side = 512  # the HOG window is 64x128: people are found on a small copy

    def __init__(self, *, conf: float = 0.5, parts: Sequence[str] = FALLBACK_PARTS) -> None:
        unknown = set(parts) - set(FALLBACK_PARTS)
        if unknown or not parts:
            raise ValueError(f"unknown fallback parts {sorted(unknown)}; choose from {FALLBACK_PARTS}")
        self.conf = conf
        self.parts = tuple(p for p in FALLBACK_PARTS if p in parts)
        suffix = "" if self.parts == FALLBACK_PARTS else ": " + ", ".join(self.parts)
        self.name = f"OpenCV Haar cascades + HOG people (offline fallback{suffix})"
        self._labels = {
            part: (label_vocab.ko_name(en), en)
            for part, en in (("face", "Human face"), ("body", "Person"), ("cat", "Cat"))
        }
        self._labels["smile"] = (label_vocab.emotion_name(3), label_vocab.EMOTIONS[3].en)
        for part in self.parts:  # load now so a broken OpenCV fails at start-up, not mid-batch
            if part in ("face", "smile", "cat"):
                _cascade(self._cascade_file(part))

    @staticmethod
    def _cascade_file(part: str) -> str:
        return {
            "face": "haarcascade_frontalface_default.xml",
            "smile": "haarcascade_smile.xml",
            "cat": "haarcascade_frontalcatface.xml",
        }[part]

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        return [self._detect_one(to_rgb8(im)) for im in images]

    def _detection(self, part: str, box, score: float, scale: float) -> Detection:
        x, y, w, h = (float(v) / scale for v in box)
        ko, en = self._labels[part]
        return Detection(ko, en, score, (x, y, x + w, y + h), self.name)

    def _detect_one(self, image: Image.Image) -> list[Detection]:
        rgb = np.asarray(image)
        found: list[Detection] = []
        if {"face", "smile"} & set(self.parts):
            gray, scale = _equalised_gray(rgb, self.face_side)
            found += self._faces_and_smiles(gray, scale)
        if "cat" in self.parts:
            gray, scale = _equalised_gray(rgb, self.cat_side)
            hits = self._cascade_hits(gray, "cat", scale_factor=1.1, neighbours=5, offset=2.5)
            found += [self._detection("cat", box, score, scale) for box, score in hits]
        if "body" in self.parts:
            found += self._people(rgb)
        return found

    def _cascade_hits(
        self, gray: np.ndarray, part: str, *, scale_factor: float, neighbours: int, offset: float
    ):
        """(box, confidence) pairs above ``conf``; the stage-sum weight is centred on ``offset``."""
        side = max(24, min(gray.shape) // 40)
        boxes, _, weights = _cascade(self._cascade_file(part)).detectMultiScale3(
            gray,
            scaleFactor=scale_factor,
            minNeighbors=neighbours,
            minSize=(side, side),
            outputRejectLevels=True,
        )
        hits = [(box, _sigmoid(float(w) - offset)) for box, w in zip(boxes, np.ravel(weights), strict=False)]
        return [(box, score) for box, score in hits if score >= self.conf]

    def _faces_and_smiles(self, gray: np.ndarray, scale: float) -> list[Detection]:
        found = []
        for box, score in self._cascade_hits(gray, "face", scale_factor=1.1, neighbours=4, offset=2.5):
            if "face" in self.parts:
                found.append(self._detection("face", box, score, scale))
            if "smile" in self.parts:
                smile = self._smile_score(gray, box)
                if smile is not None and smile >= self.conf:
                    found.append(self._detection("smile", box, smile, scale))
        return found

    def _smile_score(self, gray: np.ndarray, face) -> float | None:
        """Best smile confidence in the lower half of a face, None when there is no smile."""
        x, y, w, h = (int(v) for v in face)
        mouth = gray[y + h // 2 : y + h, x : x + w]
        if mouth.size == 0:
            return None
        boxes, _, weights = _cascade(self._cascade_file("smile")).detectMultiScale3(
            mouth, scaleFactor=1.1, minNeighbors=20, minSize=(w // 4, h // 8), outputRejectLevels=True
        )
        if len(boxes) == 0:
            return None
        return _sigmoid(float(np.max(weights)) - 1.5)  # Ancelotti's closed mouth in zidane.jpg scores 0.3

    def _people(self, rgb: np.ndarray) -> list[Detection]:
        small, scale = _shrunk(rgb, self.body_side)
        boxes, weights = _hog().detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.05)
        found = []
        for box, weight in zip(boxes, np.ravel(weights), strict=False):
            score = _sigmoid(2.0 * float(weight))  # SVM margin: 0 → 0.5, 1 → 0.88
            if score >= self.conf:
                found.append(self._detection("body", box, score, scale))
        return found


def _shrunk(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """A copy at most ``side`` pixels on its long side, and the scale used."""
    import cv2

    scale = min(1.0, side / max(rgb.shape[:2]))
    if scale == 1.0:
        return rgb, scale
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def _equalised_gray(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    import cv2

    small, scale = _shrunk(rgb, side)
    return cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)), scale


@lru_cache(maxsize=1)
def _hog():
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


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
    3. the hub asset ``yolov8m-oiv7.pt`` when ``offline`` is False (ultralytics downloads it
       into ``models/yolo/weights/``; the four-emotion face model has no public weights, it is
       trained in notebook 2);
    4. :class:`OpenCVFallbackDetector` for whatever is still missing, so there is always one.
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
        # A path named like the hub asset: ultralytics downloads it there, so step 2 finds it next time.
        target = Path(models_dir) / OIV7_LOCAL_WEIGHTS[0]
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            detectors.append(YoloObjectDetector(target))
        except ValueError as e:
            warnings.warn(
                f"{OIV7_HUB_WEIGHTS} unavailable, using the OpenCV fallback for objects ({e})", stacklevel=2
            )
    if face_path is not None:
        detectors.append(YoloFaceEmotionDetector(face_path))
    missing = []
    if not any(isinstance(d, YoloFaceEmotionDetector) for d in detectors):
        missing += ["face", "smile"]
    if not any(isinstance(d, YoloObjectDetector) for d in detectors):
        missing += ["body", "cat"]
    if missing:
        detectors.append(OpenCVFallbackDetector(parts=missing))
    return detectors


def labels_for(detections: Sequence[Detection]) -> str:
    """The label string ("기쁨, 사람"): emotions first, duplicates collapsed, excluded labels
    (인간의 얼굴, 남자, ...) dropped; "" when nothing was found."""
    return label_vocab.format_labels([d.label_ko for d in detections], strict=False)


_PALETTE = ((230, 57, 70), (29, 131, 232), (42, 157, 92), (244, 162, 27), (142, 68, 173), (0, 150, 150))


def annotate(image: Image.Image, detections: Sequence[Detection]) -> Image.Image:
    """A copy of ``image`` with each detection's box and a Korean caption ("기쁨 0.87")."""
    canvas = to_rgb8(image).copy()
    draw = ImageDraw.Draw(canvas)
    short = min(canvas.size)
    font = ImageFont.truetype(str(korean_font_path(bold=True)), size=max(12, round(short / 30)))
    width = max(2, round(short / 300))
    colours: dict[str, tuple[int, int, int]] = {}
    for det in detections:
        colour = colours.setdefault(det.label_ko, _PALETTE[len(colours) % len(_PALETTE)])
        x1, y1, x2, y2 = det.box
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        caption = f"{det.label_ko} {det.confidence:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        text_h = bottom - top + 2 * width
        y = y1 - text_h if y1 - text_h >= 0 else y1
        draw.rectangle((x1, y, x1 + right - left + 2 * width, y + text_h), fill=colour)
        draw.text((x1 + width - left, y + width - top), caption, font=font, fill=(255, 255, 255))
    return canvas
