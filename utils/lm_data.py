"""Text-model data: local tokenizers trained on our comments, encoding for T5 and GPT-2, and the
collators that keep padding out of the loss (-100)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

IGNORE_INDEX = -100
# KoGPT2's special tokens (reference §3); the T5 tokenizer uses T5's own three.
GPT2_SPECIAL = {
    "bos_token": "</s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}
T5_SPECIAL = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}
# GPT-2 data formats: 1 = the KoGPT2 runs' "labels, comment"; 2 = the GPT-2 runs' prompt.
PROMPT_FORMATS = {1: "{labels}, ", 2: "입력 : {labels} \n 출력 : "}


def prompt_for(labels: str, data_format: int) -> str:
    if data_format not in PROMPT_FORMATS:
        raise ValueError(f"unknown GPT-2 data format {data_format}; expected one of {sorted(PROMPT_FORMATS)}")
    return PROMPT_FORMATS[data_format].format(labels=labels)


def train_local_tokenizer(
    texts: Sequence[str], family: str, out_dir: str | Path, vocab_size: int
) -> PreTrainedTokenizerFast:
    """Train a tokenizer on our own texts and save it where ``AutoTokenizer`` finds it.

    T5: a Unigram model (what SentencePiece T5 tokenizers are) that appends ``</s>``;
    GPT-2: byte-level BPE with KoGPT2's special tokens, so no character is ever unknown.
    """
    if family == "t5":
        special = list(T5_SPECIAL.values())
        # Unigram must hold every character it saw (Hangul syllables, emojis) plus some pieces.
        alphabet = len({ch for text in texts for ch in text})
        vocab_size = max(vocab_size, alphabet + len(special) + 100)
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=special, unk_token="<unk>")
        tok.train_from_iterator(texts, trainer)
        eos = tok.token_to_id("</s>")
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", eos)])
        wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, **T5_SPECIAL)
    elif family == "gpt2":
        special = list(dict.fromkeys(GPT2_SPECIAL.values()))
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        tok.train_from_iterator(texts, trainer)
        wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, **GPT2_SPECIAL)
    else:
        raise ValueError(f"unknown model family {family!r}; expected 't5' or 'gpt2'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(out)
    return AutoTokenizer.from_pretrained(out)


def hub_tokenizer(model_id: str, family: str, kogpt2: bool) -> PreTrainedTokenizerFast:
    """The base model's own tokenizer; KoGPT2's needs its special tokens named explicitly."""
    if kogpt2:
        return PreTrainedTokenizerFast.from_pretrained(model_id, **GPT2_SPECIAL)
    tokenizer = AutoTokenizer.from_pretrained(model_id)
    if family == "gpt2" and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def encode_t5(
    pairs: Sequence[tuple[str, str]], tokenizer, *, max_length: int = 64, pad_to_max_length: bool = False
) -> list[dict]:
    """Input ids of the labels and target ids of the comment. With ``pad_to_max_length`` the
    targets are padded to 128 with the pad id and *kept in the loss*: the reference's recipe."""
    rows = []
    for labels, comment in pairs:
        source = tokenizer(labels, truncation=True, max_length=max_length)["input_ids"]
        if pad_to_max_length:
            target = tokenizer(comment, truncation=True, max_length=128, padding="max_length")["input_ids"]
        else:
            target = tokenizer(comment, truncation=True, max_length=max_length)["input_ids"]
        rows.append({"input_ids": source, "labels": target})
    return rows


def encode_gpt2(
    pairs: Sequence[tuple[str, str]], tokenizer, *, data_format: int, max_length: int = 96
) -> list[dict]:
    """Prompt + comment + eos; only the comment's tokens (and the eos) count in the loss."""
    rows = []
    for labels, comment in pairs:
        prompt = tokenizer(prompt_for(labels, data_format), add_special_tokens=False)["input_ids"]
        answer = tokenizer(comment, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (prompt + answer)[:max_length]
        target = ([IGNORE_INDEX] * len(prompt) + answer)[:max_length]
        rows.append({"input_ids": ids, "labels": target})
    return rows


class PadCollator:
    """Pads a batch to its own longest row: ``input_ids`` with the pad id (attention 0) and
    ``labels`` with -100, so padding never counts in the loss. Rows already padded to a fixed
    length (the reference recipe) pass through with their labels as they are."""

    def __init__(self, pad_token_id: int, padding_side: str = "right") -> None:
        self.pad_token_id = pad_token_id
        self.padding_side = padding_side

    def _pad(self, seq: list[int], length: int, value: int) -> list[int]:
        fill = [value] * (length - len(seq))
        return seq + fill if self.padding_side == "right" else fill + seq

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(r["input_ids"]) for r in rows)
        batch = {
            "input_ids": [self._pad(r["input_ids"], longest, self.pad_token_id) for r in rows],
            "attention_mask": [self._pad([1] * len(r["input_ids"]), longest, 0) for r in rows],
        }
        if "labels" in rows[0]:
            # GPT-2 rows have labels as long as their input ids, so they stay aligned.
            label_len = max(len(r["labels"]) for r in rows)
            batch["labels"] = [self._pad(r["labels"], label_len, IGNORE_INDEX) for r in rows]
        return {k: torch.tensor(v) for k, v in batch.items()}
