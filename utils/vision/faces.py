"""Offline face finders compared on the real photos (``python -m utils evaluate-photos``).

- :class:`MtcnnFaces`: the MTCNN cascade of networks whose trained weights ship inside the
  ``facenet-pytorch`` wheel (``facenet_pytorch/data/{p,r,o}net.pt``). That package pins an old
  torch, so it is installed with ``--no-deps`` (``requirements-nodeps.txt``); its MTCNN code runs
  on the project's torch. The default: on the real-photo set it found every clearly visible face
  and no false one at ``min_score`` 0.95 (numbers in ``models/pipeline/real_photos.json``).
- :class:`HaarFaces`: OpenCV's bundled frontal-face Haar cascade, ``loose`` (the settings the
  earlier fallback used) or ``strict``; kept for the comparison and as a fallback when
  ``facenet-pytorch`` is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from utils.vision.runtime import detector_runtime, openvino_module, runtime_of

NODEPS_HINT = "pip install --no-deps -r requirements-nodeps.txt"


@dataclass(frozen=True)
class FaceBox:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the photo
    score: float


class MtcnnFaces:
    """MTCNN (facenet-pytorch's bundled weights); faces scored below ``min_score`` are dropped
    (MTCNN's own last stage keeps anything above 0.7, which on the real photos included a hand,
    a motorcycle's fender and blurred spectators at 0.72–0.93)."""

    name = "MTCNN (facenet-pytorch weights)"

    def __init__(self, min_score: float = 0.95, min_face: int = 20) -> None:
        try:
            from facenet_pytorch import MTCNN
        except ImportError as e:
            raise ImportError(f"facenet-pytorch (MTCNN face weights) is not installed; {NODEPS_HINT}") from e
        self.min_score = min_score
        self.min_face = min_face
        self.model = MTCNN(keep_all=True, min_face_size=min_face, device="cpu")
        self.runtime = "PyTorch"
        if detector_runtime() == "openvino":
            self._use_openvino()

    def _use_openvino(self) -> None:
        """MTCNN's three networks on OpenVINO (2-4× torch's speed for each on this project's CPU);
        the cascade's own code (image pyramid, NMS, crops) stays facenet-pytorch's."""
        import facenet_pytorch

        weights = Path(facenet_pytorch.__file__).parent / "data"
        # input shapes (-1: any) and an example: P-Net sees each pyramid level, R-/O-Net the crops
        shapes = {
            "pnet": ((1, 3, -1, -1), (1, 3, 64, 80)),
            "rnet": ((-1, 3, 24, 24), (2, 3, 24, 24)),
            "onet": ((-1, 3, 48, 48), (2, 3, 48, 48)),
        }
        for name, (shape, example) in shapes.items():
            net = getattr(self.model, name).eval()
            source = weights / f"{name}.pt"
            setattr(
                self.model,
                name,
                openvino_module(net, torch.zeros(example), shape, name=f"mtcnn-{name}", source=source),
            )
        self.runtime = runtime_of(self.model.onet)

    def find(self, image: Image.Image) -> list[FaceBox]:
        if min(image.size) < self.min_face:
            return []  # no face fits; MTCNN's image pyramid would be empty and raise
        boxes, scores = self.model.detect(image.convert("RGB"))
        if boxes is None:
            return []
        found = []
        for box, score in zip(boxes, scores, strict=True):
            if score is None or float(score) < self.min_score:
                continue
            x1, y1, x2, y2 = (float(v) for v in box)
            found.append(
                FaceBox(
                    (max(0.0, x1), max(0.0, y1), min(image.width, x2), min(image.height, y2)), float(score)
                )
            )
        return found


@lru_cache(maxsize=4)
def opencv_cascade(file_name: str):
    """One of the Haar cascades bundled with opencv-python (loaded once)."""
    import cv2

    if not hasattr(cv2, "CascadeClassifier"):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no CascadeClassifier (moved to contrib in 5.x); "
            'install "opencv-python<5" for the offline detectors'
        )
    path = Path(cv2.data.haarcascades) / file_name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV cascade {path} is missing or unreadable")
    return cascade


def shrunk(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """A copy at most ``side`` pixels on its long side, and the scale used."""
    import cv2

    scale = min(1.0, side / max(rgb.shape[:2]))
    if scale == 1.0:
        return rgb, scale
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def equalised_gray(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    import cv2

    small, scale = shrunk(rgb, side)
    return cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)), scale


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def cascade_hits(
    gray: np.ndarray, file_name: str, *, scale_factor: float, neighbours: int, offset: float
) -> list[tuple[tuple[int, int, int, int], float]]:
    """(x, y, w, h) boxes and a (0, 1) score: the stage-sum weight through a sigmoid centred on
    ``offset``, so one threshold serves every cascade."""
    side = max(24, min(gray.shape) // 40)
    boxes, _, weights = opencv_cascade(file_name).detectMultiScale3(
        gray, scaleFactor=scale_factor, minNeighbors=neighbours, minSize=(side, side), outputRejectLevels=True
    )
    return [
        (tuple(int(v) for v in box), sigmoid(float(w) - offset))
        for box, w in zip(boxes, np.ravel(weights), strict=False)
    ]


class HaarFaces:
    """OpenCV's frontal-face Haar cascade. ``loose`` repeats the earlier fallback's settings
    (4 neighbours, score ≥ 0.5), which find three "faces" in scikit-learn's flower.jpg;
    ``strict`` asks for 8 neighbours and a score ≥ 0.8."""

    side = 800  # searched on a copy at most this large

    def __init__(self, strict: bool = True) -> None:
        self.neighbours, self.min_score = (8, 0.8) if strict else (4, 0.5)
        self.name = f"OpenCV Haar frontal face ({'strict' if strict else 'loose'})"
        opencv_cascade("haarcascade_frontalface_default.xml")

    def find(self, image: Image.Image) -> list[FaceBox]:
        gray, scale = equalised_gray(np.asarray(image.convert("RGB")), self.side)
        found = []
        for (x, y, w, h), score in cascade_hits(
            gray,
            "haarcascade_frontalface_default.xml",
            scale_factor=1.1,
            neighbours=self.neighbours,
            offset=2.5,
        ):
            if score >= self.min_score:
                found.append(FaceBox((x / scale, y / scale, (x + w) / scale, (y + h) / scale), score))
        return found


FACE_FINDERS = {
    "mtcnn": MtcnnFaces,
    "haar-strict": lambda: HaarFaces(strict=True),
    "haar-loose": lambda: HaarFaces(strict=False),
}
