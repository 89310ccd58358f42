"""Run a TensorFlow.js graph model (model.json + .bin weight shards) with torch ops on CPU.

Loading decodes the weights (float16/uint8/uint16 quantisation widened to float32, int32 kept),
pre-converts conv filters to torch layout and compiles each node into a closure; `run` evaluates
only what the requested outputs need, under torch.inference_mode(). Tensors keep the graph's
layout semantics (NHWC stays NHWC; convs/pools use zero-copy channels_last views). Exact TF
semantics: asymmetric 'SAME' padding, the 3 ResizeBilinear modes, depthwise multipliers, fused
ops, `name:k` outputs, `^ctrl` inputs skipped. Threads: the caller's torch.set_num_threads.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

Fn = Callable[[list], object]
_DTYPES = {"DT_FLOAT": torch.float32, "DT_INT32": torch.int32, "DT_INT64": torch.int64, "DT_BOOL": torch.bool}
_NP = {k: np.dtype(k).type for k in ("float32", "int32", "bool", "float16", "uint8", "uint16")}
_UNARY: dict[str, Callable] = {
    "Identity": lambda x: x,
    "Relu": torch.relu,
    "Relu6": lambda x: x.clamp(0, 6),
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "Exp": torch.exp,
    "Log": torch.log,
    "Sqrt": torch.sqrt,
    "Rsqrt": torch.rsqrt,
    "Neg": torch.neg,
    "Abs": torch.abs,
    "Square": torch.square,
    "Floor": torch.floor,
    "Elu": F.elu,
    "Softplus": F.softplus,
    "Softmax": lambda x: torch.softmax(x, -1),
    "StopGradient": lambda x: x,
}
_BINARY: dict[str, Callable] = {
    "Add": torch.add,
    "AddV2": torch.add,
    "BiasAdd": torch.add,
    "Sub": torch.sub,
    "Mul": torch.mul,
    "RealDiv": torch.div,
    "Div": torch.div,
    "Maximum": torch.maximum,
    "Minimum": torch.minimum,
    "Pow": torch.pow,
    "SquaredDifference": lambda a, b: (a - b) ** 2,
    "Equal": torch.eq,
    "Greater": torch.gt,
    "Less": torch.lt,
    "GreaterEqual": torch.ge,
    "LessEqual": torch.le,
    "FloorMod": torch.remainder,
    "FloorDiv": lambda a, b: torch.div(a, b, rounding_mode="floor"),
}


def _str(b64: str) -> str:
    return base64.b64decode(b64).decode()


def _attr(node: dict, key: str, default=None):
    """One node attribute as a python value (str, int, float, bool, torch dtype, list)."""
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    for k, conv in (("s", _str), ("i", int), ("f", float), ("b", bool), ("type", _DTYPES.get)):
        if k in a:
            return conv(a[k])
    lst = a.get("list", {})
    return (
        [_str(v) for v in lst.get("s", [])]
        or [int(v) for v in lst.get("i", [])]
        or [float(v) for v in lst.get("f", [])]
    )


def same_pad(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) of one spatial dim: the odd pixel goes after."""
    total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _prelu(y: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return torch.where(y >= 0, y, y * a.view([1, -1] + [1] * (y.dim() - 2)))


def resize_bilinear(
    x: torch.Tensor, out_hw: Sequence[int], align_corners: bool, half_pixel: bool
) -> torch.Tensor:
    """TF ResizeBilinear of an NHWC tensor by explicit gather + lerp (legacy/align_corners/half-pixel)."""
    for dim, out in ((2, int(out_hw[1])), (1, int(out_hw[0]))):  # W first, then H, as TF does
        size, i = x.shape[dim], torch.arange(out, dtype=torch.float64)
        src = (
            i * ((size - 1) / (out - 1))
            if align_corners and out > 1
            else (i + 0.5) * (size / out) - 0.5
            if half_pixel
            else i * (size / out)
        )  # last: legacy, no half-pixel shift
        lo_f = torch.floor(src)
        lo, hi = lo_f.long().clamp(0, size - 1), torch.ceil(src).long().clamp(0, size - 1)
        w = (src - lo_f).to(x.dtype).view([-1 if j == dim else 1 for j in range(x.dim())])
        a = x.index_select(dim, lo)
        x = a + (x.index_select(dim, hi) - a) * w
    return x


class TfjsGraph:
    """A loaded TF.js graph model; `run(feeds, outputs)` evaluates it."""

    def __init__(self, model_json: str | Path):
        path = Path(model_json)
        self.model = json.loads(path.read_text())
        self.nodes: dict[str, dict] = {n["name"]: n for n in self.model["modelTopology"]["node"]}
        self.consts = self._load_weights(path.parent)
        self.op_types = sorted({n["op"] for n in self.nodes.values()})
        unknown = [
            op
            for op in self.op_types
            if op not in ("Const", "Placeholder", *_UNARY, *_BINARY) and not hasattr(self, "_op_" + op)
        ]
        if unknown:
            raise NotImplementedError(f"{path.name}: unsupported TF.js op type(s): {', '.join(unknown)}")
        self.inputs = [n for n, v in self.nodes.items() if v["op"] == "Placeholder"]
        self.fns: dict[str, Fn] = {
            n: self._compile(v) for n, v in self.nodes.items() if v["op"] != "Placeholder"
        }
        self._plans: dict[tuple[str, ...], list[tuple[str, list[tuple[str, int]]]]] = {}

    def _load_weights(self, folder: Path) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for group in self.model["weightsManifest"]:  # weights lie back to back across the group's shards
            buf, pos = b"".join((folder / p).read_bytes() for p in group["paths"]), 0
            for w in group["weights"]:
                n, q = int(np.prod(w["shape"], dtype=np.int64)), w.get("quantization")
                src = _NP[q["dtype"] if q else w["dtype"]]
                arr = np.frombuffer(buf, src, n, pos)
                pos += n * np.dtype(src).itemsize
                if q and q["dtype"] in ("uint8", "uint16"):
                    arr = arr.astype(np.float32) * q["scale"] + q["min"]
                    arr = np.round(arr) if w["dtype"] == "int32" else arr
                out[w["name"]] = torch.from_numpy(arr.astype(_NP[w["dtype"]]).reshape(w["shape"]).copy())
            if pos != len(buf):
                raise ValueError(
                    f"weights manifest describes {pos} bytes, shards {group['paths']} hold {len(buf)}"
                )
        return out

    def _compile(self, node: dict) -> Fn:
        op = node["op"]
        if op == "Const":
            v = self._const_inputs({**node, "input": [node["name"]]}, 0, False)[0]
            return lambda xs: v
        if op in _UNARY or op in _BINARY:
            f = _UNARY.get(op) or _BINARY[op]
            return lambda xs: f(*xs)
        return getattr(self, "_op_" + op)(node)

    def _const_inputs(self, node: dict, start: int, to_float: bool = True) -> list[torch.Tensor]:
        names = [s.split(":")[0] for s in node["input"][start:] if not s.startswith("^")]
        if any(n not in self.consts for n in names):
            raise ValueError(
                f"{node['op']} {node['name']}: {names} must be constants in the weights manifest"
            )
        return [self.consts[n].float() if to_float else self.consts[n] for n in names]

    def _post_ops(self, node: dict, extra: list[torch.Tensor], bias_into: bool) -> tuple:
        """Fused ops as (bias for the conv, [activations]); consumes `extra` args in order."""
        bias, post = None, []
        for o in _attr(node, "fused_ops", []):
            if o == "BiasAdd" and bias_into and bias is None and not post:
                bias = extra.pop(0).reshape(-1)
            elif o == "BiasAdd":
                post.append(functools.partial(torch.add, other=extra.pop(0)))
            elif o in ("Relu", "Relu6", "Sigmoid", "Tanh", "Elu"):
                post.append(_UNARY[o])
            elif o == "LeakyRelu":
                post.append(
                    functools.partial(F.leaky_relu, negative_slope=_attr(node, "leakyrelu_alpha", 0.2))
                )
            elif o == "Prelu":
                post.append(functools.partial(_prelu, a=extra.pop(0).reshape(-1)))
            else:
                raise NotImplementedError(f"{node['op']} {node['name']}: unsupported fused op {o}")
        return bias, post

    def _conv(self, node: dict, depthwise: bool) -> Fn:
        nhwc = _attr(node, "data_format", "NHWC") == "NHWC"
        sp = (1, 2) if nhwc else (2, 3)
        s = tuple(_attr(node, "strides")[i] for i in sp)
        d = tuple(_attr(node, "dilations", [1, 1, 1, 1])[i] for i in sp)
        padding, explicit = _attr(node, "padding"), _attr(node, "explicit_paddings", [])
        w, *extra = self._const_inputs(node, 1)  # filter HWIO, or [kh, kw, C, multiplier]
        kh, kw, cin, cout = w.shape
        if depthwise:  # output channel c*m + j  <-  input channel c, multiplier j
            weight = w.reshape(kh, kw, cin * cout).permute(2, 0, 1).unsqueeze(1).contiguous()
        else:
            weight = w.permute(3, 2, 0, 1).contiguous()
        bias, post = self._post_ops(node, extra, True)
        e = explicit[2 * sp[0] : 2 * sp[0] + 4] if padding == "EXPLICIT" else None

        def run(xs: list) -> torch.Tensor:
            x = (xs[0].permute(0, 3, 1, 2) if nhwc else xs[0]).contiguous(memory_format=torch.channels_last)
            (t, b), (left, right) = (
                (same_pad(x.shape[2], kh, s[0], d[0]), same_pad(x.shape[3], kw, s[1], d[1]))
                if padding == "SAME"
                else ((e[0], e[1]), (e[2], e[3]))
                if e
                else ((0, 0), (0, 0))
            )
            groups = x.shape[1] if depthwise else x.shape[1] // cin
            y = (
                F.conv2d(x, weight, bias, s, (t, left), d, groups)
                if t == b and left == right
                else F.conv2d(F.pad(x, (left, right, t, b)), weight, bias, s, 0, d, groups)
            )
            y = functools.reduce(lambda v, f: f(v), post, y)
            return y.permute(0, 2, 3, 1) if nhwc else y

        return run

    def _op_Conv2D(self, n: dict) -> Fn:
        return self._conv(n, False)

    def _op__FusedConv2D(self, n: dict) -> Fn:
        return self._conv(n, False)

    def _op_DepthwiseConv2dNative(self, n: dict) -> Fn:
        return self._conv(n, True)

    def _op_FusedDepthwiseConv2dNative(self, n: dict) -> Fn:
        return self._conv(n, True)

    def _op__FusedMatMul(self, node: dict) -> Fn:
        ta, tb = _attr(node, "transpose_a", False), _attr(node, "transpose_b", False)
        _, post = self._post_ops(node, self._const_inputs(node, 2), False)

        return lambda xs: functools.reduce(
            lambda y, f: f(y), post, (xs[0].T if ta else xs[0]) @ (xs[1].T if tb else xs[1])
        )

    def _op_MatMul(self, n: dict) -> Fn:
        return self._op__FusedMatMul(n)

    def _op_MaxPool(self, node: dict) -> Fn:
        nhwc = _attr(node, "data_format", "NHWC") == "NHWC"
        sp = (1, 2) if nhwc else (2, 3)
        k, s = [_attr(node, "ksize")[i] for i in sp], [_attr(node, "strides")[i] for i in sp]
        same = _attr(node, "padding") == "SAME"

        def run(xs: list) -> torch.Tensor:  # channels_last pooling is ~10x faster than NCHW on CPU
            x = (xs[0].permute(0, 3, 1, 2) if nhwc else xs[0]).contiguous(memory_format=torch.channels_last)
            (t, b), (left, right) = (
                (same_pad(x.shape[2], k[0], s[0]), same_pad(x.shape[3], k[1], s[1]))
                if same
                else ((0, 0), (0, 0))
            )
            y = F.max_pool2d(
                F.pad(x, (left, right, t, b), value=-math.inf) if t + b + left + right else x, k, s
            )
            return y.permute(0, 2, 3, 1) if nhwc else y

        return run

    def _op_ResizeBilinear(self, node: dict) -> Fn:
        ac, hp = _attr(node, "align_corners", False), _attr(node, "half_pixel_centers", False)
        return lambda xs: resize_bilinear(xs[0], xs[1].tolist(), ac, hp)

    def _op_Pad(self, node: dict) -> Fn:  # paddings [[before, after]] per dim; F.pad wants last dim first
        return lambda xs: F.pad(
            xs[0],
            [int(v) for p in reversed(xs[1].tolist()) for v in p],
            value=float(xs[2]) if len(xs) > 2 else 0.0,
        )

    def _op_PadV2(self, n: dict) -> Fn:
        return self._op_Pad(n)

    def _op_ConcatV2(self, n: dict) -> Fn:
        return lambda xs: torch.cat(xs[:-1], int(xs[-1]))

    def _op_Transpose(self, n: dict) -> Fn:
        return lambda xs: xs[0].permute(*xs[1].tolist())

    def _op_Reshape(self, n: dict) -> Fn:
        return lambda xs: xs[0].reshape(xs[1].tolist())

    def _op_ExpandDims(self, n: dict) -> Fn:
        return lambda xs: xs[0].unsqueeze(int(xs[1]))

    def _op_Cast(self, n: dict) -> Fn:
        t = _attr(n, "DstT")
        return lambda xs: xs[0].to(t)

    def _op_Pack(self, n: dict) -> Fn:
        a = _attr(n, "axis", 0)
        return lambda xs: torch.stack(xs, a)

    def _op_Unpack(self, n: dict) -> Fn:
        a = _attr(n, "axis", 0)
        return lambda xs: torch.unbind(xs[0], a)

    def _op_LeakyRelu(self, n: dict) -> Fn:
        a = _attr(n, "alpha", 0.2)
        return lambda xs: F.leaky_relu(xs[0], a)

    def _op_Squeeze(self, n: dict) -> Fn:
        d = tuple(_attr(n, "squeeze_dims", []))
        return lambda xs: xs[0].squeeze(d) if d else xs[0].squeeze()

    def _op_Mean(self, n: dict) -> Fn:
        kd = _attr(n, "keep_dims", False)
        return lambda xs: xs[0].mean(tuple(xs[1].reshape(-1).tolist()), kd)

    def _op_SplitV(self, n: dict) -> Fn:
        def run(xs: list) -> tuple:  # one size may be -1: the rest
            sizes, axis = xs[1].tolist(), int(xs[2])
            return torch.split(
                xs[0], [xs[0].shape[axis] - sum(sizes) - 1 if v == -1 else v for v in sizes], axis
            )

        return run

    def _op_TopKV2(self, n: dict) -> Fn:  # (values, int32 indices), largest first
        return lambda xs: (lambda v, i: (v, i.to(torch.int32)))(
            *torch.topk(xs[0], int(xs[1]), -1, True, True)
        )

    def _op_GatherV2(self, node: dict) -> Fn:
        if _attr(node, "batch_dims", 0) != 0:
            raise NotImplementedError(f"GatherV2 {node['name']}: batch_dims != 0")

        def run(xs: list) -> torch.Tensor:
            p, i, a = xs[0], xs[1].long(), int(xs[2]) % xs[0].dim()
            return p.index_select(a, i.reshape(-1)).reshape(p.shape[:a] + i.shape + p.shape[a + 1 :])

        return run

    def _op_StridedSlice(self, node: dict) -> Fn:
        bm, em, el, na, sh = (
            _attr(node, k + "_mask", 0) for k in ("begin", "end", "ellipsis", "new_axis", "shrink_axis")
        )

        def one(i: int, b: int, e: int, st: int):  # python indexing has TF's mask semantics
            if st < 0:
                raise NotImplementedError(f"StridedSlice {node['name']}: negative strides")
            return (
                Ellipsis
                if el >> i & 1
                else None
                if na >> i & 1
                else b
                if sh >> i & 1
                else slice(None if bm >> i & 1 else b, None if em >> i & 1 else e, st)
            )

        return lambda xs: xs[0][
            tuple(one(i, *a) for i, a in enumerate(zip(*(x.tolist() for x in xs[1:4]), strict=True)))
        ]

    def _op_SparseToDense(self, n: dict) -> Fn:
        def run(xs: list) -> torch.Tensor:  # (indices, output shape, values, default)
            shape = xs[1].reshape(-1).tolist()
            out = torch.full(shape, xs[3].item(), dtype=xs[2].dtype)
            out[tuple(xs[0].long().reshape(-1, len(shape)).T)] = xs[2]
            return out

        return run

    def _refs(self, name: str) -> list[tuple[str, int]]:
        """Data inputs of a node as (node, output index); control inputs `^x` carry no data."""
        return [
            (b, int(k) if k else 0)
            for b, _, k in (
                s.partition(":") for s in self.nodes[name].get("input", []) if not s.startswith("^")
            )
        ]

    def _plan(self, outputs: tuple[str, ...]) -> list[tuple[str, list[tuple[str, int]]]]:
        order: list[str] = []
        seen: set[str] = set()
        for out in outputs:
            stack = [(out.split(":")[0], False)]
            while stack:  # iterative post-order DFS: every node after its inputs
                name, done = stack.pop()
                if name not in self.nodes:
                    raise KeyError(f"graph has no node named {name!r}")
                if done and name not in seen:
                    seen.add(name)
                    order.append(name)
                if done or name in seen:
                    continue
                stack.append((name, True))
                stack.extend((b, False) for b, _ in reversed(self._refs(name)) if b not in seen)
        return [(n, self._refs(n)) for n in order]

    def run(self, feeds: dict[str, np.ndarray | torch.Tensor], outputs: Sequence[str]) -> list[torch.Tensor]:
        """Evaluate `outputs` (node names, optionally `name:k`) given the Placeholder `feeds`."""
        key = tuple(outputs)
        plan = self._plans.get(key) or self._plans.setdefault(key, self._plan(key))
        vals: dict[str, object] = {}

        def get(b: str, k: int):
            return vals[b][k] if isinstance(vals[b], (tuple, list)) else vals[b]

        with torch.inference_mode():
            for name, refs in plan:
                if name in self.fns:
                    vals[name] = self.fns[name]([get(b, k) for b, k in refs])
                elif name not in feeds:
                    raise KeyError(f"missing feed for Placeholder {name!r}")
                else:
                    f = feeds[name]
                    vals[name] = (
                        torch.from_numpy(
                            np.ascontiguousarray(f, np.float32 if f.dtype == np.float64 else None)
                        )
                        if isinstance(f, np.ndarray)
                        else f
                    )
            return [get(b, int(k) if k else 0) for b, _, k in (o.partition(":") for o in outputs)]
