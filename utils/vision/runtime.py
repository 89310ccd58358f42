"""The detectors' CPU inference runtime: OpenVINO, with PyTorch for GPUs, training and as the fallback.

- YOLO weights are exported once with ultralytics' ``export(format="openvino", dynamic=True)``
  into ``<stem>_openvino_model/`` beside the ``.pt`` (made again when the ``.pt`` is newer) and
  predicted through ultralytics as before, so letterboxing, NMS and the result are the same (a
  dynamic export keeps ultralytics' minimal padding, which a fixed 640×640 export would replace).
- Small torch modules (MTCNN's three networks, the FER2013 mini-Xception) are converted in
  memory with ``openvino.convert_model`` and saved under ``models/runtime/`` (git-ignored), keyed
  by the weights file, so later processes only load them.

Where OpenVINO is not installed or the export fails, the detector runs in PyTorch and one line
on stderr says why. ``SNS_DETECTOR_RUNTIME=torch`` (or ``openvino``) overrides the choice; a
machine with CUDA uses PyTorch. Threads follow ``torch.get_num_threads()`` (``OMP_NUM_THREADS``,
``torch.set_num_threads``), so one setting governs both runtimes. Arithmetic: the small networks
always compute in f32 (their scores meet fixed thresholds); YOLO uses OpenVINO's default for the
CPU (f32 on AVX2; bf16 where the CPU has AMX or AVX512-BF16) unless ``SNS_OPENVINO_PRECISION``
is ``f32`` (exact), ``bf16`` or ``int8`` (an int8 copy of the export, :mod:`utils.vision.quantize`:
about twice f32's speed on AVX2, at a cost in agreement measured there).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

from utils.paths import MODELS, save_openvino_model, shown_path

RUNTIME_ENV = "SNS_DETECTOR_RUNTIME"
PRECISION_ENV = "SNS_OPENVINO_PRECISION"
RUNTIMES = ("openvino", "torch")
PRECISIONS = ("f32", "bf16", "int8")
RUNTIME_NAMES = {"openvino": "OpenVINO", "torch": "PyTorch"}
MODULE_CACHE = MODELS / "runtime"  # converted small networks (git-ignored)


def detector_runtime(runtime: str | None = None) -> str:
    """``runtime``, else ``$SNS_DETECTOR_RUNTIME``, else PyTorch on a CUDA machine and OpenVINO on a CPU."""
    chosen = runtime or os.environ.get(RUNTIME_ENV) or ("torch" if torch.cuda.is_available() else "openvino")
    if chosen not in RUNTIMES:
        raise ValueError(f"unknown detector runtime {chosen!r}; choose from {', '.join(RUNTIMES)}")
    return chosen


def openvino_missing() -> str | None:
    """Why OpenVINO cannot run here, or None. Checked before ultralytics' export, which would
    otherwise try to pip-install the package."""
    if importlib.util.find_spec("openvino") is None:
        return "the openvino package is not installed (pip install openvino)"
    return None


def note_fallback(what: str, why: str) -> None:
    print(
        f"note: {what}: OpenVINO cannot be used ({why}); running it in PyTorch", file=sys.stderr, flush=True
    )


def yolo_precision() -> str | None:
    """How the YOLO detectors compute on OpenVINO: ``$SNS_OPENVINO_PRECISION`` (``f32``, ``bf16``
    or ``int8``: :mod:`utils.vision.quantize`), else None: the CPU's default (f32 on AVX2, bf16
    with AMX or AVX512-BF16). int8 is asked for, never the default: on real photos it changed
    the labels of 11 of 59 (``models/README.md``)."""
    chosen = os.environ.get(PRECISION_ENV) or None
    if chosen is not None and chosen not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV}={chosen!r}: choose from {', '.join(PRECISIONS)}")
    return chosen


def compile_config(*, exact: bool) -> dict:
    """OpenVINO CPU settings: one request at a time, as many threads as torch uses; ``exact``
    (or ``SNS_OPENVINO_PRECISION=f32``) keeps f32 on CPUs whose default would be bf16. An int8
    model's layers left in floating point take the CPU's default."""
    config: dict = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": torch.get_num_threads()}
    precision = os.environ.get(PRECISION_ENV)
    if exact or precision == "f32":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    elif precision == "bf16":
        config["INFERENCE_PRECISION_HINT"] = precision
    return config


@contextmanager
def torch_threads_kept():
    """Give torch back its thread count after ultralytics: each predictor's device set-up sets it
    to the cores less one (1 on a 2-core CPU), which halved every later torch and OpenVINO step
    of a run there, the text model's included."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


@contextmanager
def quiet_ultralytics():
    """ultralytics logs a dozen lines for an export and two for each load of one, and
    torch.jit.trace warns; one note says it instead."""
    from ultralytics.utils import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        LOGGER.setLevel(level)


# ---------------------------------------------------------------- YOLO weights


def openvino_dir(weights: str | Path) -> Path:
    weights = Path(weights)
    return weights.with_name(f"{weights.stem}_openvino_model")


def export_is_fresh(export: Path, weights: Path) -> bool:
    """Whether ``export`` holds a whole export of ``weights`` made after the ``.pt``."""
    xml = export / f"{weights.stem}.xml"
    return (
        xml.is_file()
        and (export / "metadata.yaml").is_file()
        and xml.stat().st_mtime >= weights.stat().st_mtime
    )


def export_yolo_openvino(weights: str | Path, imgsz: int | Sequence[int]) -> Path:
    """The OpenVINO export of ``weights`` (an ultralytics ``.pt``), made on first use and again
    when the ``.pt`` is newer. Made in a temporary folder beside it and moved into place, so two
    processes starting together never load a half-written export."""
    weights = Path(weights)
    target = openvino_dir(weights)
    if export_is_fresh(target, weights):
        return target
    from ultralytics import YOLO

    print(
        f"note: exporting {weights.name} to OpenVINO once (into {shown_path(target)})",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(dir=weights.parent, prefix=f".{weights.stem}-export-") as tmp:
        copy = Path(tmp) / weights.name
        shutil.copy2(weights, copy)
        with quiet_ultralytics(), torch_threads_kept():
            made = Path(YOLO(str(copy)).export(format="openvino", imgsz=imgsz, dynamic=True, verbose=False))
        if not export_is_fresh(target, weights):  # another process may have finished first
            shutil.rmtree(target, ignore_errors=True)
            os.replace(made, target)
    return target


def use_compile_config(yolo, export: Path, imgsz: int | Sequence[int]) -> None:
    """Recompile the model that ultralytics' OpenVINO backend loaded with :func:`compile_config`
    (ultralytics compiles with all cores and no precision setting). A first small predict sets
    up the backend and warms it up; a backend that moved in another ultralytics is left as it is."""
    import numpy as np

    with torch_threads_kept():
        yolo.predict(np.zeros((32, 64, 3), dtype=np.uint8), imgsz=imgsz, verbose=False)
    backend = getattr(getattr(yolo.predictor, "model", None), "backend", None)
    compile_model = getattr(backend, "compile_model", None)
    if compile_model is None or not hasattr(backend, "ov_compiled_model"):
        return
    xml = next(export.glob("*.xml"))
    backend.ov_compiled_model = compile_model(str(xml), config=compile_config(exact=False))


# ---------------------------------------------------------------- small torch modules


class OpenVinoModule(torch.nn.Module):
    """A torch module's forward run by an OpenVINO compiled model: a float tensor in, the same
    tensors out (one, or a tuple in the module's order)."""

    def __init__(self, compiled, tuple_out: bool) -> None:
        super().__init__()
        self.compiled = compiled
        self.tuple_out = tuple_out
        # callers that read the dtype from the parameters (facenet-pytorch's MTCNN) see f32
        self.dtype_probe = torch.nn.Parameter(torch.zeros(0), requires_grad=False)

    def forward(self, x: torch.Tensor):
        outputs = [torch.from_numpy(v) for v in self.compiled(x.detach().float().numpy()).to_tuple()]
        return tuple(outputs) if self.tuple_out else outputs[0]


def _cache_key(source: Path, name: str) -> str:
    import openvino

    stat = source.stat()
    raw = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{openvino.__version__}|{name}"
    return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


def openvino_module(
    module: torch.nn.Module,
    example: torch.Tensor,
    shape: Sequence[int],
    *,
    name: str,
    source: str | Path,
    cache: Path = MODULE_CACHE,
) -> torch.nn.Module:
    """``module`` (in eval mode) converted to OpenVINO for ``shape`` (-1: any size), or ``module``
    itself after one note when OpenVINO cannot run it. ``source`` (the weights file) and ``name``
    key the converted copy in ``cache``."""
    why = openvino_missing()
    if why is None:
        try:
            return _converted(module, example, shape, name=name, source=Path(source), cache=cache)
        except Exception as e:  # a conversion or compile error of any kind: PyTorch still works
            why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    note_fallback(name, why)
    return module


def _converted(module, example, shape, *, name: str, source: Path, cache: Path) -> OpenVinoModule:
    import openvino as ov

    core = ov.Core()
    xml = cache / f"{name}-{_cache_key(source, name)}.xml"
    with torch.inference_mode():
        sample = module(example)
    tuple_out = isinstance(sample, tuple)
    if xml.is_file():
        model = core.read_model(str(xml))
    else:
        with _quiet_conversion():
            model = ov.convert_model(module, example_input=example, input=[ov.PartialShape(list(shape))])
        save_openvino_model(model, xml)
    return OpenVinoModule(core.compile_model(model, "CPU", compile_config(exact=True)), tuple_out)


@contextmanager
def _quiet_conversion():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript tracer warnings about shape arithmetic
        yield


def runtime_of(module: Callable) -> str:
    """ "OpenVINO" or "PyTorch": what runs ``module``."""
    return "OpenVINO" if isinstance(module, OpenVinoModule) else "PyTorch"
