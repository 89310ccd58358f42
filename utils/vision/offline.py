"""The offline detector: real pretrained models that registry packages ship, no download.

For each face (MTCNN, :mod:`utils.vision.faces`): 인간의 얼굴 and 사람 (a visible person, as
OIV7's Person would say), and the face's emotion from FER2013 mini-Xception
(:mod:`utils.vision.emotion`) when it is clear. An emotion only ever comes from a face box.
People whose face is not visible: OpenCV's HOG pedestrian detector, with a strict score (at
the earlier setting it called a rocket 사람). Cats: OpenCV's frontal cat-face cascade.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image

from utils import labels as label_vocab
from utils.photos import to_rgb8
from utils.vision import emotion as fer
from utils.vision.detectors import Detection, Detector
from utils.vision.faces import HaarFaces, MtcnnFaces, cascade_hits, equalised_gray, shrunk, sigmoid

OFFLINE_PARTS = ("face", "emotion", "body", "cat")
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


class OfflineDetector(Detector):
    """Faces (+ 사람) with their emotion, people, cats; ``parts`` picks which jobs run, so that a
    YOLO model for objects or faces replaces only its own part."""

    body_side = 512  # the HOG window is 64×128: people are searched on a small copy
    cat_side = 640

    def __init__(
        self, *, parts: Sequence[str] = OFFLINE_PARTS, face_finder=None, emotion_min_prob: float | None = None
    ) -> None:
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
        described = []
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

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        return [self._detect_one(to_rgb8(im)) for im in images]

    def _detect_one(self, image: Image.Image) -> list[Detection]:
        found: list[Detection] = []
        if self.faces is not None:
            found += self._faces(image)
        rgb = np.asarray(image)
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

    def _faces(self, image: Image.Image) -> list[Detection]:
        faces = self.faces.find(image)
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


def _default_face_finder():
    """MTCNN when its weights are installed; the strict Haar cascade otherwise (said in the name)."""
    try:
        return MtcnnFaces()
    except ImportError as e:
        import sys

        print(f"note: {e}; using OpenCV's Haar cascade for faces instead", file=sys.stderr)
        return HaarFaces(strict=True)
