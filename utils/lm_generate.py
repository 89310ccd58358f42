"""Comments from a trained text model: one class for T5 and GPT-2, batched and seeded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from utils.lm_data import prompt_for
from utils.styles import Style, model_input

MODEL_INFO_FILE = "sns_comment.json"
# A per-tensor "Loading weights" bar for a 13 MB model is noise in notebooks and the CLI.
hf_logging.disable_progress_bar()


def model_dir_of(path: str | Path) -> Path:
    """A training run folder gives its ``best/`` model; a model folder gives itself."""
    path = Path(path)
    if (path / "best" / "config.json").exists():
        return path / "best"
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"no trained text model in {path} (expected config.json, or best/config.json)"
        )
    return path


class CommentGenerator:
    """Label strings → comments with a trained model folder (as ``utils.lm.train`` saves it).

    T5 decodes greedily (or with ``num_beams``), as the reference did; GPT-2 samples with the
    reference's top-k 50 / top-p 0.95, and the prompt is stripped from what it returns.
    """

    def __init__(self, model, tokenizer, *, family: str, data_format: int | None, name: str) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.family = family
        self.data_format = data_format
        self.name = name

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | None = None) -> CommentGenerator:
        model_dir = model_dir_of(path)
        info_path = model_dir / MODEL_INFO_FILE
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        family = info.get("family") or ("t5" if config.get("model_type") in ("t5", "mt5") else "gpt2")
        loader = AutoModelForSeq2SeqLM if family == "t5" else AutoModelForCausalLM
        # Weights may be stored in half precision to stay small; compute in fp32 on the CPU.
        model = loader.from_pretrained(model_dir, dtype=torch.float32)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        name = f"{family}:{info.get('experiment', model_dir.parent.name)}"
        return cls(
            model.to(device), tokenizer, family=family, data_format=info.get("data_format") or 1, name=name
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def generate(
        self,
        label_strings: Sequence[str],
        *,
        seed: int = 0,
        batch_size: int = 16,
        max_new_tokens: int = 64,
        num_beams: int = 1,
        style: str | Style | None = None,
        **overrides,
    ) -> list[str]:
        """One comment per label string; ``style`` goes in front of the labels as the model-input
        prefix (None: the inputs as given)."""
        label_strings = [model_input(labels, style) for labels in label_strings]
        torch.manual_seed(seed)
        out: list[str] = []
        for start in range(0, len(label_strings), batch_size):
            batch = list(label_strings[start : start + batch_size])
            if self.family == "t5":
                out += self._generate_t5(batch, max_new_tokens, num_beams, overrides)
            else:
                out += self._generate_gpt2(batch, max_new_tokens, overrides)
        return out

    def _generate_t5(
        self, batch: list[str], max_new_tokens: int, num_beams: int, overrides: dict
    ) -> list[str]:
        enc = self.tokenizer(batch, return_tensors="pt", padding=True).to(self.device)
        settings = {"do_sample": False, "num_beams": num_beams, **overrides}
        ids = self.model.generate(**enc, max_new_tokens=max_new_tokens, **settings)
        return [text.strip() for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    def _generate_gpt2(self, batch: list[str], max_new_tokens: int, overrides: dict) -> list[str]:
        self.tokenizer.padding_side = "left"  # generation continues from the right end
        prompts = [prompt_for(labels, self.data_format) for labels in batch]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        settings = {"do_sample": True, "top_k": 50, "top_p": 0.95, **overrides}
        ids = self.model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            **settings,
        )
        new_tokens = ids[:, enc["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        # A comment is one line; anything after a newline is the model starting another example.
        return [text.strip().split("\n")[0].strip() for text in texts]
