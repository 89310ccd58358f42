"""The web page under load: concurrent ``gradio_client`` users on 127.0.0.1, every request answered
and none mixed up, p50 / p95 latency; then a client that disconnects mid-request, and the next one.

    .venv/bin/python benchmarks/app_load.py [--users 8] [--photos-per-user 5] [--yaml yolov8m.yaml --imgsz 640]
    .venv/bin/python benchmarks/app_load.py --smoke     # 3 users × 2 photos, yolov8n at 160 px (the test suite runs it)

The page is the one ``make app`` serves (``utils.pipeline.app``), in this process, as the tests
serve it, around a pipeline with the online configuration's compute: an ultralytics YOLO built
from its YAML with the 601 Open Images V7 classes (random weights) on the CPU runtime, the
offline face emotions and the shipped T5. The photos are crops, flips and scales of the real
photos that ship inside installed packages, each of its own size; one more detector names an
object for each photo size, so every photo has a label string of its own and an answer with
another photo's labels cannot pass. Each answer must carry the labels its own photo gets when
analysed alone, its status, its own photo size and a Korean comment. Each user sends its photos one after another; latency is from the call to the
answer. The disconnecting client is a separate process, killed (SIGKILL) while the page works on
its photo; the page must then answer a new client's photo correctly.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402
from pipeline_latency import build_random_yolo, calibrated_conf, detector_names, make_photos  # noqa: E402  (benchmarks/ is this script's folder)

from tests.app_server import running_app  # noqa: E402  (the page on a free port, as the tests serve it)
from utils import vision  # noqa: E402
from utils.labels import format_labels, oiv7_classes  # noqa: E402
from utils.pipeline.comment_pipeline import CommentPipeline, sample_photos  # noqa: E402

BOXES_PER_PHOTO = 3  # the calibrated threshold keeps about this many boxes (so 1-3 labels)
KILLED_CLIENT = """
import sys
from gradio_client import Client, handle_file
Client(sys.argv[1], verbose=False).predict(handle_file(sys.argv[2]), api_name="/comment_on_photo")
"""


class PhotoTag(vision.Detector):
    """One object per photo, told by the photo's size: its own label, so that an answer carrying
    another photo's labels cannot go unnoticed (the other detectors' labels repeat across photos)."""

    name = "photo tag (size → object)"
    conf = 1.0

    def __init__(self, tags: dict[tuple[int, int], int]) -> None:
        self.tags = tags  # photo size → OIV7 class id

    def detect(self, images):
        out = []
        for image in images:
            label = oiv7_classes()[self.tags[image.size]]
            box = (0.0, 0.0, float(image.width), float(image.height))
            out.append([vision.Detection(label["ko"], label["en"], 1.0, box, self.name)])
        return out


def tagged_photos(folder: Path, count: int) -> tuple[list[Path], PhotoTag]:
    """``count`` photos of distinct sizes (variants of the real photos that ship inside packages)
    and the tag detector that names each one's object."""
    sizes: dict[tuple[int, int], Path] = {}
    for path in make_photos(folder, 3 * count, sources=sample_photos()):
        with Image.open(path) as image:
            sizes.setdefault(image.size, path)
    if len(sizes) < count:
        raise SystemExit(f"only {len(sizes)} photo sizes; need {count}")
    chosen = dict(list(sizes.items())[:count])
    kept = [
        c["id"] for c in oiv7_classes() if format_labels([c["ko"]], strict=False) == c["ko"]
    ]  # not excluded
    objects = kept[:: len(kept) // count][:count]
    return list(chosen.values()), PhotoTag(dict(zip(chosen, objects, strict=True)))


def own_labels(pipeline: CommentPipeline, photos: list[Path]) -> dict[Path, str]:
    """Each photo's label string when the detectors see it alone (what its answer must carry)."""
    labels = {}
    for path in photos:
        image = vision.load_photo(path)
        labels[path] = vision.labels_for([d for det in pipeline.detectors for d in det.detect([image])[0]])
    return labels


def ask(url: str, photo: Path) -> tuple[float, tuple]:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    start = time.perf_counter()
    answer = client.predict(handle_file(str(photo)), api_name="/comment_on_photo")
    return time.perf_counter() - start, answer


def problems_of(answer: tuple, photo: Path, labels: str) -> list[str]:
    """What is wrong with the page's answer for ``photo`` (empty: nothing)."""
    from PIL import Image

    from utils.text.dataset import has_hangul

    annotated, got_labels, comment, _details, status = answer
    problems = []
    if got_labels != labels:
        problems.append(f"labels {got_labels!r}, its own are {labels!r}")
    if status != f"✅ {photo.name}":
        problems.append(f"status {status!r}")
    if not has_hangul(comment or ""):
        problems.append(f"comment {comment!r}")
    with Image.open(annotated) as shown, Image.open(photo) as original:
        if shown.size != original.size:
            problems.append(f"annotated photo {shown.size}, the photo is {original.size}")
    return problems


def load(url: str, photos: dict[Path, str], users: int) -> tuple[list[float], list[str]]:
    """Each user sends its share of ``photos`` one after another; all users at once."""
    paths = list(photos)
    shares = [paths[u::users] for u in range(users)]
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()

    def user(mine: list[Path]) -> None:
        from gradio_client import Client, handle_file

        client = Client(url, verbose=False)
        for photo in mine:
            start = time.perf_counter()
            try:
                answer = client.predict(handle_file(str(photo)), api_name="/comment_on_photo")
                found = problems_of(answer, photo, photos[photo])
            except Exception as e:  # an unanswered request is a result, not a crash of the benchmark
                found = [f"no answer: {type(e).__name__}: {e}"]
            with lock:
                latencies.append(time.perf_counter() - start)
                problems.extend(f"{photo.name}: {p}" for p in found)

    with ThreadPoolExecutor(users) as pool:
        for future in [pool.submit(user, mine) for mine in shares]:
            future.result()
    return latencies, problems


def disconnect_then_ask(url: str, pipeline: CommentPipeline, victim: Path, photo: Path, labels: str) -> str:
    """A client process killed while the page works on ``victim``; then a new client's ``photo``."""
    started = threading.Event()
    unpatched = pipeline.run

    def watched(*args, **kwargs):
        started.set()
        return unpatched(*args, **kwargs)

    pipeline.run = watched
    try:
        client = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, url, str(victim)])
        if not started.wait(timeout=120):
            client.kill()
            return "the disconnecting client's photo never reached the pipeline"
        os.kill(client.pid, signal.SIGKILL)
        client.wait()
    finally:
        pipeline.run = unpatched
    seconds, answer = ask(url, photo)
    found = problems_of(answer, photo, labels)
    if found:
        return f"after the disconnect: {'; '.join(found)}"
    return f"answered in {seconds:.2f} s after a client was killed mid-request"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--photos-per-user", type=int, default=5)
    parser.add_argument(
        "--yaml", default="yolov8m.yaml", help="ultralytics model config of the object detector"
    )
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--smoke", action="store_true", help="3 users × 2 photos, yolov8n at 160 px")
    args = parser.parse_args()
    if args.smoke:
        args.users, args.photos_per_user, args.yaml, args.imgsz = 3, 2, "yolov8n.yaml", 160
    wanted = args.users * args.photos_per_user
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photos, tag = tagged_photos(folder, wanted + 2)
        classes = {c["id"]: c["en"] for c in oiv7_classes()}
        weights = build_random_yolo(folder, args.yaml, classes, args.imgsz, he=False)
        conf = calibrated_conf(
            vision.YoloObjectDetector, weights, args.imgsz, photos[:8], BOXES_PER_PHOTO, runtime=None
        )
        pipeline = CommentPipeline(detector_weights=weights, offline=True)
        for detector in pipeline.detectors:
            if isinstance(detector, vision.YoloObjectDetector):
                detector.conf, detector.imgsz = conf, args.imgsz
        shown = ", ".join(detector_names(pipeline))
        pipeline.detectors.append(tag)
        labels = own_labels(pipeline, photos)
        *load_photos, victim, after = photos
        print(
            f"page: {shown} + the photo tag; {Path(args.yaml).stem} at {args.imgsz} px, conf {conf:.5f}; "
            f"comment {pipeline.comment_model.split(' (')[0]}"
        )
        print(
            f"{args.users} users × {args.photos_per_user} photos: {wanted} distinct photos, "
            f"{len(set(labels.values()))} distinct label strings"
        )
        with running_app(pipeline) as url:
            start = time.perf_counter()
            latencies, problems = load(url, {p: labels[p] for p in load_photos}, args.users)
            wall = time.perf_counter() - start
            disconnect = disconnect_then_ask(url, pipeline, victim, after, labels[after])
    answered = len(latencies) - sum("no answer" in p for p in problems)
    print(
        f"requests: {len(latencies)} sent, {answered} answered, {len(problems)} problems, in {wall:.1f} s ({len(latencies) / wall:.2f}/s)"
    )
    for problem in problems[:10]:
        print(f"  ✗ {problem}")
    print(
        f"latency: p50 {percentile(latencies, 0.5):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s"
    )
    print(f"disconnect: {disconnect}")
    return 0 if not problems and disconnect.startswith("answered") else 1


if __name__ == "__main__":
    sys.exit(main())
