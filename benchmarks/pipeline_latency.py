"""Pipeline latency and throughput: 32 photos one by one vs in batches, per stage.

    .venv/bin/python benchmarks/pipeline_latency.py [--photos 32] [--batch-size 8]

Photos are variants (crops, flips, scales) of the sample images that ship with ultralytics, so
the run needs no download. Models are those the pipeline resolves offline (or --detector/--lm).
The one-by-one run is the baseline, measured in the same process with the same loaded models.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.pipeline import CommentPipeline, PhotoResult, demo_photos  # noqa: E402

STAGES = ("load", "detect", "generate", "annotate")


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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(name: str, results: list[PhotoResult], wall: float) -> dict[str, float]:
    ok = [r for r in results if r.ok]
    totals = [sum(r.timings.values()) for r in ok]
    print(f"\n{name}: {len(ok)}/{len(results)} photos in {wall:.2f} s → {len(ok) / wall:.2f} photos/s")
    print(f"  {'stage':<10}{'median ms':>12}{'p95 ms':>10}")
    for stage in (*STAGES, "total"):
        values = totals if stage == "total" else [r.timings[stage] for r in ok if stage in r.timings]
        if values:
            median, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
            print(f"  {stage:<10}{median:>12.1f}{p95:>10.1f}")
    return {"throughput": len(ok) / wall}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--detector")
    parser.add_argument("--lm", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp), args.photos)
        pipeline = CommentPipeline(detector_weights=args.detector, lm_dir=args.lm, offline=True)
        print(f"models: {pipeline.model_names}")
        pipeline.batch_size = 1
        pipeline.run(photos[:2], progress=False)  # warm-up: first calls pay one-off costs

        start = time.perf_counter()
        one_by_one = [r for p in photos for r in pipeline.run([p], out_dir=Path(tmp) / "a", progress=False)]
        baseline = summarise("one by one (baseline)", one_by_one, time.perf_counter() - start)

        pipeline.batch_size = args.batch_size
        start = time.perf_counter()
        batched = pipeline.run(photos, out_dir=Path(tmp) / "b", progress=False)
        ours = summarise(f"batched (batch size {args.batch_size})", batched, time.perf_counter() - start)

    print(f"\nthroughput ratio batched / one-by-one: {ours['throughput'] / baseline['throughput']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
