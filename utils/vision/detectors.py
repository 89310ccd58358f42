"""The detector interface and the ultralytics YOLO detectors (OIV7 objects, the face-emotion model)."""

from __future__ import annotations

import shutil
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from utils import labels as label_vocab
from utils.paths import shown_path
from utils.photos import to_rgb8
from utils.plots import korean_font_path
from utils.vision import runtime as runtime_module


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
    """Shared part of the ultralytics detectors: loading, predict, label lookup.

    A batch is predicted together on a GPU. On a CPU each photo is predicted alone: batching
    gains nothing there (the cores are already busy inside one photo), and alone a photo keeps
    ultralytics' minimal letterbox padding instead of the batch's common square, so it costs
    fewer pixels and gets the same boxes whatever batch it came in."""

    def __init__(
        self, weights: str | Path, *, conf: float = 0.25, imgsz: int | None = None, runtime: str | None = None
    ) -> None:
        """``imgsz=None`` predicts at the size the model was trained at (640 for the hub models).
        ``runtime``: ``"openvino"`` or ``"torch"``; None: OpenVINO on a CPU, PyTorch with CUDA
        (:func:`utils.vision.runtime.detector_runtime`)."""
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
        self.trained_imgsz = self.model.overrides.get("imgsz") or 640
        self.runtime = "PyTorch"
        self.precision: str | None = None  # int8, f32 or bf16 on OpenVINO; None: the runtime's own
        if runtime_module.detector_runtime(runtime) == "openvino":
            self._use_openvino(Path(self.model.ckpt_path or path))

    def _use_openvino(self, weights: Path) -> None:
        """Predict with the OpenVINO export of ``weights`` from now on, or say why not."""
        from ultralytics import YOLO

        why = runtime_module.openvino_missing()
        if why is None:
            try:
                export = runtime_module.export_yolo_openvino(weights, self.trained_imgsz)
                export = self._int8_copy(weights, export)
                with runtime_module.quiet_ultralytics():
                    model = YOLO(str(export), task=self.model.task)
                    runtime_module.use_compile_config(model, export, self.imgsz or self.trained_imgsz)
            except Exception as e:  # export, load or compile: PyTorch still works
                why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                self.precision = None
            else:
                self.model, self.runtime = model, "OpenVINO"
                return
        runtime_module.note_fallback(weights.name, why)

    def _int8_copy(self, weights: Path, export: Path) -> Path:
        """The int8 copy of ``export`` when int8 is asked for and can be made, else ``export``
        itself (after one note saying why, where int8 was asked for)."""
        precision = runtime_module.yolo_precision()
        if precision != "int8":
            self.precision = precision
            return export
        from utils.vision import quantize

        try:
            copy = quantize.quantize_yolo_openvino(weights, export, self.imgsz or self.trained_imgsz)
        except Exception as e:  # NNCF missing, or a layer it cannot handle: f32 still works
            why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            print(
                f"note: {weights.name}: no int8 copy ({why}); running the OpenVINO export as it is",
                file=sys.stderr,
                flush=True,
            )
            return export
        self.precision = "int8"
        return copy

    def __repr__(self) -> str:
        shown = f"{self.runtime} {self.precision}" if self.precision else self.runtime
        return f"{type(self).__name__}({self.name!r}, conf={self.conf}, runtime={shown})"

    @abstractmethod
    def _class_labels(self, names: dict[int, str]) -> dict[int, tuple[str, str]]:
        """Model class id → (Korean label, English label)."""

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        if not images:
            return []
        images = [to_rgb8(im) for im in images]
        size = self.imgsz or self.trained_imgsz
        with runtime_module.torch_threads_kept():
            if self.runtime == "PyTorch" and torch.cuda.is_available():
                results = self.model.predict(images, conf=self.conf, imgsz=size, verbose=False)
            else:  # on a CPU, one photo at a time (see the class docstring)
                results = [
                    self.model.predict([im], conf=self.conf, imgsz=size, verbose=False)[0] for im in images
                ]
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
