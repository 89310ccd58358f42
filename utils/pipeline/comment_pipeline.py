"""Photo → labels → comment: the project's main job (``python -m utils comment`` is in
:mod:`utils.pipeline.cli`).

Models are resolved once, in the order of architecture.md: paths the caller gives, models
trained under ``models/``, hub downloads (when online), then the offline defaults (real
pretrained models that registry packages ship: MTCNN faces, FER2013 emotions, OpenCV people and
cats; and the small T5 shipped in ``models/default_t5``). Every result names the models that
produced it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from utils import labels as label_vocab
from utils.lm.decoding import comment_problems, get_decoding
from utils.lm.trained import resolve_comment_model
from utils.paths import package_dir, shown_path
from utils.text.styles import DEFAULT_STYLE, Style, model_input, parse_style, split_model_input

# A text-model comment that fails validate_comment is sampled again: RETRY_SAMPLES candidates at
# once (one batch), in up to RETRY_ROUNDS rounds; the passing candidate the model finds likeliest
# wins. Sharper than plain sampling (temperature 1, top-k 50), whose samples of this small model
# are mostly broken Korean that the checks only partly catch. One round: on 96 label strings of
# comments_val.json a second round let the model keep 2 more comments (37 instead of 39 by the
# composer) at 84 more ms a comment, and the raters post the composer's comments at least as often.
RETRY_ROUNDS = 1
RETRY_SAMPLES = 4
RETRY_SAMPLING = {"temperature": 0.7, "top_p": 0.9}
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})


@dataclass
class PhotoResult:
    """What the pipeline says about one photo (or one label string given directly)."""

    source: str
    labels: str = ""
    comment: str = ""
    detections: list = field(default_factory=list)
    models: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    annotated: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["detections"] = [asdict(d) for d in self.detections]
        return data


def is_online() -> bool:
    """Whether hub downloads are allowed (the Makefile and tests set the offline variables)."""
    return not any(
        os.environ.get(v) == "1" for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "YOLO_OFFLINE")
    )


def photo_key(image) -> str:
    """A short key from the photo's pixels (a 16×16 grayscale thumbnail): the same photo gives
    the same key whatever its file name; a different photo almost surely another."""
    import hashlib

    small = image.convert("L").resize((16, 16))
    return hashlib.blake2b(small.tobytes(), digest_size=8).hexdigest()


def find_photos(inputs: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders into photo paths. Returns (photos, problems): missing paths are
    problems; files in a folder that are not photos by their ending are skipped silently."""
    photos: list[Path] = []
    problems: list[tuple[str, str]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
            if not found:
                problems.append(
                    (str(path), "folder contains no photos (.jpg, .jpeg, .png, .webp, .bmp, .tif)")
                )
            photos.extend(found)
        elif path.is_file():
            photos.append(path)
        else:
            problems.append((str(path), "no such file or folder"))
    return photos, problems


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CommentPipeline:
    """Loads its models once, then turns photos (or label strings) into comments.

    ``offline=None`` follows the environment (HF_HUB_OFFLINE / YOLO_OFFLINE); with ``offline=True``
    nothing is downloaded and missing detector weights fall back to OpenCV's cascades.
    """

    def __init__(
        self,
        *,
        detector_weights: str | Path | None = None,
        face_weights: str | Path | None = None,
        lm_dir: str | Path | None = None,
        offline: bool | None = None,
        seed: int = 0,
        batch_size: int = 8,
        load_vision: bool = True,
        style: str | Style | None = None,
        decoding: str | object | None = None,
        writer: str | None = None,
        writer_model: str | None = None,
    ) -> None:
        self.offline = (not is_online()) if offline is None else offline
        self.seed = seed
        # How many photos of each (labels, style) this run has commented: the next one gets
        # another comment (``write_photo_comments``).
        self._commented: Counter[tuple[str, str]] = Counter()
        self.batch_size = batch_size
        self.style = parse_style(style)  # every call's style unless the call names another
        self.decoding = decoding  # a name in utils.lm.decoding.DECODINGS or a Decoding; None: its default
        self.detectors: list = []
        if load_vision:
            from utils import vision

            self.detectors = vision.resolve_detectors(detector_weights, face_weights, offline=self.offline)
        model_dir = resolve_comment_model(lm_dir)
        if model_dir is not None:
            from utils.lm.training import CommentGenerator

            self.generator = CommentGenerator.from_pretrained(model_dir)
            shown = shown_path(model_dir)
            self.comment_model = f"{self.generator.name} ({shown})"
        else:
            from utils.datagen.runner import OfflineComposer

            self.generator = OfflineComposer(seed=seed)
            self.comment_model = "offline composer (phrase banks in data/phrases)"
        # writer: "openai" / "gemini" send each photo to a vision LLM (utils.pipeline.vision_writer);
        # None or "t5": the local text model. Without a key, a one-line note and the local model.
        self._writers: dict[str, object] = {}
        self.vision_writer = None
        self.use_writer(writer, model=writer_model)

    def use_writer(self, name: str | None, *, model: str | None = None) -> None:
        """Comments on photos from now on by ``name`` (``t5``/None, ``openai``, ``gemini``); each
        LLM writer is opened once (a missing key: one note, then the local model)."""
        from utils.pipeline.vision_writer import open_writer

        key = f"{name}|{model}"
        if key not in self._writers:
            self._writers[key] = open_writer(name, model=model)
        self.vision_writer = self._writers[key]

    def write_photo_comments(
        self, label_strings: Sequence[str], photos: Sequence[object], *, style: str | Style | None = None
    ) -> tuple[list[str], list[str]]:
        """Comments for photos and their labels: by the vision writer when one is set (the photo
        itself goes to the LLM), else, and for each comment it could not write, by
        :meth:`write_comments`; the writer's name says which, and why the local model stepped in."""
        style = self.style if style is None else parse_style(style)
        if self.vision_writer is None or not label_strings:
            return self._varied_comments(label_strings, style)
        written = self.vision_writer.write(photos, label_strings, style)
        comments = [w.comment or "" for w in written]
        writers = [self.vision_writer.describe()] * len(written)
        failed = [i for i, w in enumerate(written) if w.comment is None]
        local, local_writers = self._varied_comments([label_strings[i] for i in failed], style)
        for i, comment, writer in zip(failed, local, local_writers, strict=True):
            comments[i] = comment
            writers[i] = f"{writer} ({self.vision_writer.name} did not: {written[i].problem})"
        return comments, writers

    def _varied_comments(self, label_strings: Sequence[str], style: Style) -> tuple[list[str], list[str]]:
        """:meth:`write_comments` for photos: the first photo with a label set gets its comment as
        that method writes it; a later photo of this pipeline with the same labels (six photos of
        a person in one archive) gets another, written with a seed of its own (sampled by the
        text model, other phrases by the composer), so that one comment is not posted under every
        such photo. The count starts again with each run, so a resumed run may repeat one."""
        rounds: dict[int, list[int]] = {}
        for i, labels in enumerate(label_strings):
            rounds.setdefault(self._commented[labels, style.key], []).append(i)
            self._commented[labels, style.key] += 1
        comments, writers = [""] * len(label_strings), [""] * len(label_strings)
        for earlier, rows in sorted(rounds.items()):
            seed = None if earlier == 0 else self.seed + earlier
            written = self.write_comments([label_strings[i] for i in rows], seed=seed, style=style)
            for i, comment, writer in zip(rows, *written, strict=True):
                comments[i], writers[i] = comment, writer
        return comments, writers

    @property
    def writer(self) -> str:
        """Who writes comments on photos: ``t5`` (the local text model), ``openai`` or ``gemini``."""
        return "t5" if self.vision_writer is None else self.vision_writer.name.split("/")[0]

    @property
    def model_names(self) -> dict[str, object]:
        return {"detectors": [d.name for d in self.detectors], "comment": self.comment_model}

    def write_comments(
        self,
        label_strings: Sequence[str],
        *,
        seed: int | None = None,
        style: str | Style | None = None,
    ) -> tuple[list[str], list[str]]:
        """Comments for label strings, generated in batches, and the name of what wrote each.

        A small text model sometimes leaves out an object or asks a question: such comments
        (those failing ``validate_comment``) are sampled again a few times with other seeds,
        and if none passes, the offline composer writes that one; the name says so.
        ``seed`` other than the pipeline's asks for another comment for the same labels (the
        text model samples instead of decoding greedily; the composer picks other phrases).
        ``style`` (default: the pipeline's) is checked too: a model not trained on styles writes
        the default style, so its comment in another style falls back to the composer, which
        writes every style; the writer's name says so.
        """
        labels = list(label_strings)
        if not labels:
            return [], []
        resample = seed is not None and seed != self.seed
        distinct = list(dict.fromkeys(labels))
        if len(distinct) < len(labels) and not resample:
            # photos with the same labels get the same comment anyway: write each once
            written = dict(
                zip(distinct, zip(*self.write_comments(distinct, style=style), strict=True), strict=True)
            )
            return [written[lab][0] for lab in labels], [written[lab][1] for lab in labels]
        seed = self.seed if seed is None else seed
        style = self.style if style is None else parse_style(style)
        writer = self.comment_model if style == DEFAULT_STYLE else f"{self.comment_model}; style {style.ko}"
        if hasattr(self.generator, "compose_many"):
            keys = [f"{seed}|{i}" for i in range(len(labels))] if resample else None
            return self.generator.compose_many(labels, keys, style), [writer] * len(labels)
        sampling = ({"do_sample": True} if resample else {}) | {"style": style}
        comments = self.generator.generate(
            labels, seed=seed, batch_size=self.batch_size, decoding=self.decoding, **sampling
        )
        writers = [writer] * len(labels)
        inputs = [model_input(lab, style) for lab in labels]  # the key the re-ranking checked them by
        failing = [i for i, c in enumerate(comments) if self._problems(c, inputs[i])]
        # A comment the model itself is unsure of goes to the composer: its resamples rarely clear
        # the floor, cost 8 more decodings each, and the composer's comments rated no worse (round 5).
        unsure = self._unsure([i for i in range(len(labels)) if i not in failing], comments, inputs)
        # A guided decoding's retries sample the guided candidate alone (without the plain sample
        # that would mostly leave out an object and be thrown away).
        retry_with = {"guide_only": True} if get_decoding(self.decoding).guided else {}
        for attempt in range(1, RETRY_ROUNDS + 1):
            if not failing:
                break
            asked = [labels[i] for i in failing for _ in range(RETRY_SAMPLES)]
            retry = self.generator.generate(
                asked,
                seed=seed + attempt,
                batch_size=self.batch_size * RETRY_SAMPLES,
                decoding=self.decoding,
                do_sample=True,
                style=style,
                **RETRY_SAMPLING,
                **retry_with,
            )
            for n, i in enumerate(failing):
                found = self._likeliest_passing(retry[n * RETRY_SAMPLES : (n + 1) * RETRY_SAMPLES], inputs[i])
                if found is not None:
                    comments[i] = found
            failing = [i for i in failing if self._problems(comments[i], inputs[i])]
        failing = sorted(failing + list(unsure))
        if failing:
            from utils.text.composer import OfflineComposer

            composer = OfflineComposer(seed=seed)
            for i in failing:
                problems = ", ".join(self._problems(comments[i], inputs[i])) or (
                    f"unsure (mean log-probability {unsure[i]:.2f}, below {self.generator.confidence_floor:.2f})"
                )
                comments[i] = composer.compose(labels[i], style=style)
                writers[i] = (
                    f"offline composer ({style.ko}; the text model's comments failed the checks: {problems})"
                )
        return comments, writers

    def _problems(self, comment: str, model_input: str) -> list[str]:
        """``comment_problems``, and for a model that learnt from the composer
        (``known_phrases_only``) each sentence no bank has: one that names no label ("한 저녁
        보내세요", ``models/review/round10``) or one that is no remark of the labels it names
        ("벌이 향기로울 것 같아요", round 12), and a sad, angry or startled face whose feeling no
        sentence speaks to. The raters read the first two as nonsense and the last as ignoring
        the photo."""
        problems = comment_problems(comment, model_input)
        if getattr(self.generator, "known_phrases_only", False):
            from utils.text.dataset import sentences_no_bank_has
            from utils.text.templates import off_template_sentences, unaddressed_feelings

            labels = label_vocab.parse_labels(split_model_input(model_input)[0], strict=False)
            problems += [
                f"a sentence no phrase bank has: {s}" for s in sentences_no_bank_has(comment, labels)
            ]
            problems += [
                f"no remark of the labels it names: {s}" for s in off_template_sentences(comment, labels)
            ]
            if feelings := unaddressed_feelings(comment, labels):
                problems.append("no sentence for the face's feeling: " + ", ".join(feelings))
        return problems

    def _unsure(
        self, rows: Sequence[int], comments: Sequence[str], inputs: Sequence[str]
    ) -> dict[int, float]:
        """Of ``rows``, those whose comment the text model itself scores below its confidence floor
        (row → score); none when the model has no floor. Blind reviews chose the shipped T5's
        floor: under it, comments read as nonsense far more often (``models/review/README.md``,
        rounds 5 and 9c)."""
        floor = getattr(self.generator, "confidence_floor", None)
        if floor is None or not rows:
            return {}
        scores = self.generator.score([inputs[i] for i in rows], [comments[i] for i in rows])
        return {i: s for i, s in zip(rows, scores, strict=True) if s < floor}

    def _likeliest_passing(self, candidates: Sequence[str], model_input: str) -> str | None:
        """The candidate passing the checks (and the model's confidence floor, where it has one)
        that the text model scores highest; None when none does. The model is asked only when it
        has a floor or several pass."""
        passing = list(dict.fromkeys(c for c in candidates if not self._problems(c, model_input)))
        floor = getattr(self.generator, "confidence_floor", None)
        if not passing or (len(passing) == 1 and floor is None):
            return passing[0] if passing else None
        scores = self.generator.score([model_input] * len(passing), passing)
        best = max(range(len(passing)), key=scores.__getitem__)
        return passing[best] if floor is None or scores[best] >= floor else None

    def comment_without_labels(self, key: object = 0, style: str | Style | None = None) -> str:
        """A photo in which nothing was recognised still gets a kind, general comment: the
        composer's no-emotion phrases (a text model trained on labels has no input to read).
        ``key`` picks the phrases; the pipeline passes the photo's content key, so different
        photos get different comments and the same photo always the same one."""
        from utils.text.composer import OfflineComposer

        return OfflineComposer(seed=self.seed).compose(
            "", key=key, style=self.style if style is None else style
        )

    def comment_on_labels(
        self, label_strings: Sequence[str], *, seed: int | None = None, style: str | Style | None = None
    ) -> list[PhotoResult]:
        """Skip vision: label strings → comments. Unknown labels are kept as written (the text
        model sees them as words); an empty label string is an error for that item. ``seed``: as
        in :meth:`write_comments`."""
        results = [PhotoResult(source="--labels") for _ in label_strings]
        todo = []
        for result, text in zip(results, label_strings, strict=True):
            canonical = label_vocab.format_labels(label_vocab.parse_labels(text, strict=False), strict=False)
            if not canonical:
                result.error = f"empty label string {text!r}: give labels like '기쁨, 안경, 나무'"
                continue
            result.labels = canonical
            result.models = self.model_names | {"detectors": []}
            todo.append(result)
        start = time.perf_counter()
        comments, writers = self.write_comments([r.labels for r in todo], seed=seed, style=style)
        per_item = (time.perf_counter() - start) / max(len(todo), 1)
        for result, comment, writer in zip(todo, comments, writers, strict=True):
            result.comment = comment
            result.models["comment"] = writer
            result.timings = {"generate": per_item}
        return results

    def run(
        self,
        photos: str | Path | Iterable[str | Path],
        *,
        out_dir: str | Path | None = None,
        progress: bool = True,
        style: str | Style | None = None,
    ) -> list[PhotoResult]:
        """Photos, a folder, or a list of either → one result per photo, in order. A photo that
        cannot be read gets a result with ``error`` set; the others are processed. Detector and
        generator calls are batched (``batch_size`` photos at a time), and a batch's photos are
        detected while the batch before it gets its comments."""
        from utils import vision

        self._commented.clear()  # each run varies its own repeats: the same photos, the same comments
        inputs = [photos] if isinstance(photos, str | Path) else list(photos)
        paths, problems = find_photos(inputs)
        results = [PhotoResult(source=src, error=why) for src, why in problems]
        bar = tqdm(total=len(paths), desc="photos", unit="photo", disable=not progress or len(paths) < 2)
        batches = list(_chunks(paths, self.batch_size))
        if not self._overlaps_stages():
            for batch in batches:
                results.extend(self._run_batch(batch, vision, out_dir, style))
                bar.update(len(batch))
            bar.close()
            return results
        # The next batch is loaded and detected on a second thread while this one's comments are
        # written: OpenVINO's threads are its own and release the GIL, so on a CPU the two stages
        # share the cores instead of taking turns (benchmarks/pipeline_latency.py).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect") as ahead:
            pending = ahead.submit(self._detect_batch, batches[0], vision) if batches else None
            for k, batch in enumerate(batches):
                detected = pending.result()
                if k + 1 < len(batches):
                    pending = ahead.submit(self._detect_batch, batches[k + 1], vision)
                results.extend(self._finish_batch(*detected, vision, out_dir, style))
                bar.update(len(batch))
        bar.close()
        return results

    def _overlaps_stages(self) -> bool:
        """Whether :meth:`run` detects the next batch while writing this one's comments: only where
        every detector runs on OpenVINO. Detectors in torch would share torch's threads with the
        text model and slow both (the offline configuration fell to 0.83× the reference's way)."""
        return bool(self.detectors) and all(getattr(d, "runtime", None) == "OpenVINO" for d in self.detectors)

    def run_batch(self, paths: Sequence[Path], *, out_dir: str | Path | None = None) -> list[PhotoResult]:
        """One batch of photo files → their results, in order (what :meth:`run` does per batch;
        ``utils.pipeline.runs`` feeds it from a lazy folder walk)."""
        from utils import vision

        return self._run_batch(paths, vision, out_dir)

    def _run_batch(
        self, paths: Sequence[Path], vision, out_dir: str | Path | None, style: str | Style | None = None
    ) -> list[PhotoResult]:
        return self._finish_batch(*self._detect_batch(paths, vision), vision, out_dir, style)

    def _detect_batch(self, paths: Sequence[Path], vision) -> tuple[list[PhotoResult], list[tuple]]:
        """Load and detect a batch: its results (labels set, unreadable photos with their error)
        and the (result, image) pairs of the photos that loaded."""
        results = [PhotoResult(source=str(p)) for p in paths]
        loaded: list[tuple[PhotoResult, object]] = []
        for result, path in zip(results, paths, strict=True):
            start = time.perf_counter()
            try:
                image = vision.load_photo(path)
            except vision.PhotoError as e:
                result.error = str(e)
                continue
            result.timings["load"] = time.perf_counter() - start
            loaded.append((result, image))
        if not loaded:
            return results, loaded
        images = [image for _, image in loaded]
        start = time.perf_counter()
        per_photo = [[] for _ in images]
        for detector in self.detectors:
            for i, found in enumerate(detector.detect(images)):
                per_photo[i].extend(found)
        detect_time = (time.perf_counter() - start) / len(images)
        for (result, _), detections in zip(loaded, per_photo, strict=True):
            result.detections = detections
            result.labels = vision.labels_for(detections)
            result.timings["detect"] = detect_time
            result.models = self.model_names
        return results, loaded

    def _finish_batch(
        self,
        results: list[PhotoResult],
        loaded: list[tuple],
        vision,
        out_dir: str | Path | None,
        style: str | Style | None = None,
    ) -> list[PhotoResult]:
        """Comments (and annotated copies in ``out_dir``) for a detected batch."""
        if not loaded:
            return results
        with_labels = [r for r, _ in loaded if r.labels]
        start = time.perf_counter()
        photos = [image for r, image in loaded if r.labels]
        comments, writers = self.write_photo_comments([r.labels for r in with_labels], photos, style=style)
        generate_time = (time.perf_counter() - start) / max(len(with_labels), 1)
        for result, comment, writer in zip(with_labels, comments, writers, strict=True):
            result.comment = comment
            result.models = {**result.models, "comment": writer}
            result.timings["generate"] = generate_time
        for result, image in loaded:
            if not result.labels:
                result.comment = self.comment_without_labels(key=photo_key(image), style=style)
                result.models = {
                    **result.models,
                    "comment": "offline composer (nothing recognised in the photo)",
                }
        if out_dir is not None:
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
            for result, image in loaded:
                start = time.perf_counter()
                target = out / f"{Path(result.source).stem}_annotated.jpg"
                vision.annotate(image, result.detections).convert("RGB").save(target, quality=90)
                result.annotated = str(target)
                result.timings["annotate"] = time.perf_counter() - start
        return results


def demo_photos() -> list[Path]:
    """Photos that ship inside installed packages: ultralytics' sample images."""
    import ultralytics

    assets = Path(ultralytics.__file__).parent / "assets"
    return [assets / "bus.jpg", assets / "zidane.jpg"]


def sample_photos() -> list[Path]:
    """Real photos that ship inside installed packages: ultralytics' bus.jpg and zidane.jpg,
    matplotlib's grace_hopper.jpg, scikit-image's astronaut.png and scikit-learn's flower.jpg."""
    import matplotlib

    return [
        *demo_photos(),
        Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg",
        package_dir("skimage") / "data" / "astronaut.png",
        package_dir("sklearn") / "datasets" / "images" / "flower.jpg",
    ]


def is_known_label(label: str) -> bool:
    """Whether ``label`` is an emotion or one of the 601 OIV7 classes (Korean or English name)."""
    try:
        label_vocab.ko_name(label)
    except label_vocab.UnknownLabelError:
        return False
    return True
