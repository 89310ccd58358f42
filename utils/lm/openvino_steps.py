"""The T5's decoding steps on OpenVINO: the same comments, fewer milliseconds on a CPU.

A comment is 20 to 40 decoder steps, and the shipped T5 is so small (3 layers of 256) that a
PyTorch step is mostly Python: 🤗's modules, masks and cache bookkeeping around matrices of a
few hundred numbers. From the second step on (once the cross-attention keys and values are in
the cache), :func:`run_steps_on_openvino` hands each step to one compiled OpenVINO model: the
last token, the encoder's output and mask and every layer's cached keys and values in; the
logits and the self-attention keys and values grown by one out, written back into 🤗's cache.
🤗's ``generate`` keeps everything else (greedy, beams, sampling, logits processors such as the
label guide), and the first step, the encoder and ``score`` stay in PyTorch.

It computes in f32, so the comments are those of PyTorch (``tests/test_generate.py`` compares
them). ``SNS_TEXT_RUNTIME=torch`` keeps PyTorch; so does a CUDA device, a GPT-2 model, or an
OpenVINO that is missing or cannot convert (one line on stderr says why). The conversion (a
few seconds) is saved beside the weights, in ``openvino_steps/`` (git-ignored), keyed by the
weights file, so later processes only load it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
import types
import warnings
from pathlib import Path

import torch
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer, EncoderDecoderCache
from transformers.modeling_outputs import Seq2SeqLMOutput

from utils.paths import save_openvino_model

TEXT_RUNTIME_ENV = "SNS_TEXT_RUNTIME"
STEP_FOLDER = "openvino_steps"  # beside the weights, like a YOLO model's export (git-ignored)


def _filled_cache(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> DynamicCache:
    """A dynamic cache holding these (keys, values) per layer, without the concatenation onto
    an empty tensor that ``update`` does (the converter cannot trace it)."""
    layers = []
    for keys, values in pairs:
        layer = DynamicLayer()
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
        layers.append(layer)
    cache = DynamicCache.__new__(DynamicCache)
    Cache.__init__(cache, layers=layers)
    return cache


class _DecoderStep(torch.nn.Module):
    """One decoder step with every cached tensor as an argument: what OpenVINO converts.
    Arguments: the last token (batch, 1), the encoder's output and mask, then per layer the
    self-attention keys and values and the cross-attention keys and values. Returns the
    logits (batch, 1, vocabulary), then per layer the grown self-attention keys and values."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.layers = model.config.num_decoder_layers

    def forward(self, token, encoder_states, encoder_mask, *cached):
        own = _filled_cache([(cached[4 * i], cached[4 * i + 1]) for i in range(self.layers)])
        cross = _filled_cache([(cached[4 * i + 2], cached[4 * i + 3]) for i in range(self.layers)])
        cache = EncoderDecoderCache(own, cross)
        for i in range(self.layers):
            cache.is_updated[i] = True  # the cross-attention reads its keys and values from the cache
        hidden = self.model.decoder(
            input_ids=token,
            cache=cache,
            encoder_hidden_states=encoder_states,
            encoder_attention_mask=encoder_mask,
            use_cache=True,
        )[0]
        if self.model.config.scale_decoder_outputs:
            hidden = hidden * (self.model.model_dim**-0.5)
        grown = [t for layer in own.layers for t in (layer.keys, layer.values)]
        return (self.model.lm_head(hidden), *grown)


def _step_example(model) -> tuple[torch.Tensor, ...]:
    config = model.config
    batch, source, past = 2, 5, 3
    heads, size = config.num_heads, config.d_kv
    token = torch.zeros((batch, 1), dtype=torch.long)
    encoder = model.encoder(input_ids=torch.ones((batch, source), dtype=torch.long)).last_hidden_state
    mask = torch.ones((batch, source), dtype=torch.long)
    cached = []
    for _ in range(config.num_decoder_layers):
        cached += [torch.zeros((batch, heads, past, size))] * 2 + [
            torch.zeros((batch, heads, source, size))
        ] * 2
    return (token, encoder, mask, *cached)


def _cache_path(weights: Path) -> Path:
    import openvino

    stat = weights.stat()
    raw = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{openvino.__version__}|t5-step"
    digest = hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()
    return weights.parent / STEP_FOLDER / f"t5-step-{digest}.xml"


def _compiled_step(model, weights: Path | None):
    import openvino as ov

    core = ov.Core()
    xml = _cache_path(weights) if weights is not None and weights.is_file() else None
    if xml is not None and xml.is_file():
        converted = core.read_model(str(xml))
    else:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript tracer warnings about shape arithmetic
            converted = ov.convert_model(_DecoderStep(model).eval(), example_input=_step_example(model))
        if xml is not None:
            save_openvino_model(converted, xml)
    config = {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
        "INFERENCE_PRECISION_HINT": "f32",  # bf16 would change which token wins a near tie
    }
    return core.compile_model(converted, "CPU", config)


def why_not_openvino(model, device: torch.device) -> str | None:
    """Why the steps of ``model`` stay in PyTorch here, or None."""
    if os.environ.get(TEXT_RUNTIME_ENV, "openvino") == "torch":
        return f"{TEXT_RUNTIME_ENV}=torch"
    if os.environ.get(TEXT_RUNTIME_ENV, "openvino") != "openvino":
        raise ValueError(f"unknown text runtime {os.environ[TEXT_RUNTIME_ENV]!r}; choose openvino or torch")
    if device.type != "cpu":
        return f"the model runs on {device.type}"
    if model.config.model_type not in ("t5", "mt5"):
        return f"a {model.config.model_type} model"
    if importlib.util.find_spec("openvino") is None:
        return "the openvino package is not installed (pip install openvino)"
    return None


def run_steps_on_openvino(model, weights: str | Path | None = None) -> str:
    """Make ``model`` (a 🤗 T5 on the CPU, in eval mode) decode its steps after the first on
    OpenVINO; ``weights`` (its safetensors file) keys the saved conversion. Returns the runtime
    the steps now run on ("OpenVINO" or "PyTorch")."""
    why = why_not_openvino(model, model.device)
    if why is None:
        try:
            compiled = _compiled_step(model, Path(weights) if weights else None)
        except Exception as e:  # a conversion or compile error of any kind: PyTorch still works
            why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    if why is not None:
        if not why.startswith(TEXT_RUNTIME_ENV) and "runs on" not in why:
            print(f"note: the text model decodes in PyTorch ({why})", file=sys.stderr)
        return "PyTorch"
    requests = threading.local()  # one infer request per thread: the web page may serve two at once
    torch_forward = model.forward

    def forward(self, *args, **kwargs):
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        token = kwargs.get("decoder_input_ids")
        encoder = kwargs.get("encoder_outputs")
        plain_step = (
            not args
            and isinstance(cache, EncoderDecoderCache)
            and cache.self_attention_cache.get_seq_length() > 0
            and token is not None
            and token.shape[1] == 1
            and encoder is not None
            and kwargs.get("labels") is None
            and not any(kwargs.get(k) for k in ("output_attentions", "output_hidden_states"))
        )
        if not plain_step:
            return torch_forward(*args, **kwargs)
        own, cross = cache.self_attention_cache.layers, cache.cross_attention_cache.layers
        mask = kwargs.get("attention_mask")
        states = encoder[0]
        if mask is None:
            mask = torch.ones(states.shape[:2], dtype=torch.long)
        inputs = [token, states, mask]
        for mine, theirs in zip(own, cross, strict=True):
            inputs += [mine.keys, mine.values, theirs.keys, theirs.values]
        if not hasattr(requests, "step"):
            requests.step = compiled.create_infer_request()
        outputs = requests.step.infer([t.detach().numpy() for t in inputs], share_inputs=True)
        outputs = [torch.from_numpy(outputs[i].copy()) for i in range(len(own) * 2 + 1)]
        for i, layer in enumerate(own):
            layer.keys, layer.values = outputs[1 + 2 * i], outputs[2 + 2 * i]
        self.openvino_steps += 1
        return Seq2SeqLMOutput(logits=outputs[0], cache=cache)

    model.forward = types.MethodType(forward, model)
    model.openvino_steps = 0  # steps decoded on OpenVINO so far
    return "OpenVINO"
