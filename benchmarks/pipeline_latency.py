"""Pipeline throughput: one by one vs batched vs 2 processes, photos/s, per-stage share, peak memory.

    .venv/bin/python benchmarks/pipeline_latency.py [--config online|offline|both] [--photos 8] [--batch-size 4]
    .venv/bin/python benchmarks/pipeline_latency.py --smoke     # tiny sizes, seconds (the test suite runs it)

Configurations (both with the shipped text model ``models/default_t5``):
- ``online``: the compute of the detector users get online — an ultralytics YOLOv8m built from
  ``yolov8m.yaml`` with the 601 Open Images V7 classes (the real weights' architecture and head;
  random weights, since the time does not depend on their values), at 640 px. A confidence
  threshold keeps NMS realistic: without one every one of the 8,400 boxes of a photo goes to NMS
  (a flood); ultralytics' 0.25 keeps none of a random model's boxes (so no labels and no text
  model). The threshold is the median, over the photos one at a time, of the 8th-best box score
  left after NMS. Random-weight scores shift from photo to photo, so photos keep from none to a
  hundred boxes: the table shows the mean each run kept, and the labels per photo.
- ``offline``: the detectors that resolve with no weights.

Models are loaded and warmed up on 2 photos before anything is timed. One process times one by
one (batch size 1, the baseline) and then batched; its peak memory is read after each (the peak
only grows, so the second reading is the batched run's). Then 2 processes started by torchrun,
each taking its shard of the photos as ``python -m utils comment --results`` does. ``--threads``
(default: all cores) go to the one process, or half to each of the two. Photos are variants
(crops, flips, scales) of the samples that ship with ultralytics, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.lm.trained import DEFAULT_COMMENT_MODEL  # noqa: E402
from utils.pipeline import CommentPipeline, demo_photos  # noqa: E402

STAGES = ("load", "detect", "generate")
DETECTIONS_PER_PHOTO = 8  # boxes left after NMS at the calibrated threshold, on the calibration photos


def make_photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct photos derived from the shipped samples."""
    sources = [Image.open(p).convert("RGB") for p in demo_photos()]
    paths = []
    for i in range(count):
        image = sources[i % len(sources)]
        w, h = image.size
        crop = 0.05 * (i % 5)
        image = image.crop((int(w * crop), int(h * crop), w - int(w * crop / 2), h - int(h * crop / 2)))
        if i % 2:
            image = ImageOps.mirror(image)
        scale = (0.6, 0.8, 1.0)[i % 3]
        image = image.resize((int(image.width * scale), int(image.height * scale)))
        path = folder / f"photo_{i:02d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def build_online_detector(folder: Path, yaml: str, imgsz: int, calibration: list[Path]) -> tuple[Path, float]:
    """A YOLO checkpoint of ``yaml`` with the 601 OIV7 classes and random weights, and the
    confidence threshold that leaves about DETECTIONS_PER_PHOTO boxes per photo after NMS.

    Ultralytics' default init shrinks activations layer by layer until every box scores the
    class-bias prior; variance-keeping (He) init and one prior for all levels give boxes that
    differ by their features, as a trained detector's do."""
    import numpy as np
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from utils import vision
    from utils.labels import oiv7_classes

    vision.keep_ultralytics_offline()
    torch.manual_seed(0)
    model = DetectionModel(yaml, nc=len(oiv7_classes()), verbose=False)
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    for branch in model.model[-1].cv3:
        torch.nn.init.constant_(branch[-1].bias, -4.6)  # prior 0.01 on every level
    model.names = {c["id"]: c["en"] for c in oiv7_classes()}
    weights = folder / f"{Path(yaml).stem}-oiv7-random.pt"
    torch.save({"model": model, "train_args": {"imgsz": imgsz}}, weights)
    # Calibration only, through the pipeline's own detector and photo loading: with no threshold
    # every box goes to NMS (what the calibrated threshold prevents in the timed runs).
    # One photo at a time: with random weights the scores shift with the letterbox padding.
    detector = vision.YoloObjectDetector(weights, conf=0.0, imgsz=imgsz)
    kept = []
    for path in calibration:
        (found,) = detector.detect([vision.load_photo(path)])
        scores = sorted((d.confidence for d in found), reverse=True)
        kept.append(scores[min(DETECTIONS_PER_PHOTO, len(scores)) - 1])
    return weights, float(np.median(kept))


# ---------------------------------------------------------------- worker: one timed configuration


def worker(spec: dict) -> None:
    """Time each batch size of ``spec`` in this process (or in this rank of a torchrun launch)."""
    import cv2
    import torch

    from utils import vision
    from utils.pipeline.runs import distributed_rank, shard_of

    rank, world_size = distributed_rank()
    threads = max(1, spec["threads"] // world_size)
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    pipeline = CommentPipeline(
        detector_weights=spec.get("weights"), lm_dir=DEFAULT_COMMENT_MODEL, offline=True
    )
    for detector in pipeline.detectors:
        if isinstance(detector, vision.YoloObjectDetector):
            detector.conf, detector.imgsz = spec["conf"], spec["imgsz"]
    photos = [Path(p) for p in spec["photos"]]
    mine = [p for p in photos if shard_of(p.name, world_size) == rank]
    pipeline.run_batch(photos[:2])  # warm-up: first calls pay one-off costs
    runs = []
    for batch_size in spec["batch_sizes"]:
        pipeline.batch_size = batch_size
        if world_size > 1:
            torch.distributed.barrier()
        start = time.perf_counter()
        results = []
        for i in range(0, len(mine), batch_size):
            results += pipeline.run_batch(mine[i : i + batch_size])
        if world_size > 1:
            torch.distributed.barrier()  # the run lasts until the slower process is done
        runs.append(
            {
                "wall": time.perf_counter() - start,
                "photos": sum(r.ok for r in results),
                "stages": {s: sum(r.timings.get(s, 0.0) for r in results) for s in STAGES},
                "detections": sum(len(r.detections) for r in results),
                "labels": sum(len(r.labels.split(", ")) for r in results if r.labels),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "models": pipeline.model_names,
            }
        )
    gathered = [runs]
    if world_size > 1:
        gathered = [None] * world_size
        torch.distributed.all_gather_object(gathered, runs)
        torch.distributed.destroy_process_group()
    if rank == 0:
        Path(spec["out"]).write_text(json.dumps(gathered), encoding="utf-8")


# ---------------------------------------------------------------- driver: the three configurations


def launch_worker(spec: dict, folder: Path, processes: int) -> list[list[dict]]:
    """Per batch size of ``spec``, the stats of every process."""
    spec_path = folder / f"spec_{processes}.json"
    spec = {**spec, "out": str(folder / f"stats_{processes}.json")}
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    done = subprocess.run(
        [*launcher, str(Path(__file__).resolve()), "--worker", str(spec_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": str(max(1, spec["threads"] // processes))},
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {processes}-process run failed:\n{done.stderr[-4000:]}")
    per_process = json.loads(Path(spec["out"]).read_text(encoding="utf-8"))
    return [list(runs) for runs in zip(*per_process, strict=True)]


def report(name: str, ranks: list[dict]) -> float:
    photos = sum(r["photos"] for r in ranks)
    wall = max(r["wall"] for r in ranks)
    stages = {s: sum(r["stages"][s] for r in ranks) for s in STAGES}
    total = sum(stages.values()) or 1.0
    shares = "".join(f"{100 * stages[s] / total:>9.0f}%" for s in STAGES)
    memory = " + ".join(f"{r['peak_rss_mb']:,.0f}" for r in ranks)
    boxes = sum(r["detections"] for r in ranks) / max(photos, 1)
    print(f"{name:<28}{photos / wall:>9.3f}{shares}{boxes:>10.1f}   {memory} MB")
    return photos / wall


def benchmark(config: str, args: argparse.Namespace, folder: Path, photos: list[Path]) -> None:
    spec = {"photos": [str(p) for p in photos], "threads": args.threads, "conf": None, "imgsz": None}
    if config == "online":
        weights, conf = build_online_detector(folder, args.yaml, args.imgsz, photos)
        spec |= {"weights": str(weights), "conf": conf, "imgsz": args.imgsz}
        what = (
            f"{Path(args.yaml).stem} from {args.yaml} with the 601 OIV7 classes (random weights) at "
            f"{args.imgsz} px, conf {conf:.5f} (the median photo keeps {DETECTIONS_PER_PHOTO} boxes after NMS)"
        )
    else:
        what = "the detectors that resolve offline (no weights)"
    print(
        f"\n=== {config}: {what}; text model {DEFAULT_COMMENT_MODEL.parent.name}/{DEFAULT_COMMENT_MODEL.name}"
    )
    split = max(1, args.threads // 2)
    print(f"{len(photos)} photos; CPU threads: {args.threads} for one process, {split} for each of 2")
    one_by_one, batched = launch_worker({**spec, "batch_sizes": [1, args.batch_size]}, folder, 1)
    (two,) = launch_worker({**spec, "batch_sizes": [args.batch_size]}, folder, 2)
    runs = {
        "one by one (baseline)": one_by_one,
        f"batched (batch size {args.batch_size})": batched,
        f"2 processes (batch size {args.batch_size})": two,
    }
    models = one_by_one[0]["models"]  # names without their (temporary) paths
    print(f"models: {', '.join(n.split(' (')[0] for n in [*models['detectors'], models['comment']])}")
    header = "".join(f"{s:>10}" for s in STAGES)
    print(f"{'':<28}{'photos/s':>9}{header}{'boxes':>10}   peak RSS per process")
    speeds = {name: report(name, ranks) for name, ranks in runs.items()}
    first = one_by_one[0]
    print(f"labels per photo (one by one) {first['labels'] / max(first['photos'], 1):.1f}")
    baseline = speeds["one by one (baseline)"]
    for name, speed in list(speeds.items())[1:]:
        print(f"throughput ratio {name.split(' (')[0]} / one-by-one: {speed / baseline:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", choices=("online", "offline", "both"), default="both")
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads in all")
    parser.add_argument(
        "--yaml", default="yolov8m.yaml", help="ultralytics model config of the online detector"
    )
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--smoke", action="store_true", help="2 photos, yolov8n at 160 px: a quick check")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker.read_text(encoding="utf-8")))
        return 0
    if args.smoke:
        args.photos, args.batch_size, args.yaml, args.imgsz, args.config = 2, 2, "yolov8n.yaml", 160, "online"
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp), args.photos)
        for config in ("online", "offline") if args.config == "both" else (args.config,):
            benchmark(config, args, Path(tmp), photos)
    return 0


if __name__ == "__main__":
    sys.exit(main())
