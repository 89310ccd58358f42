"""Text-model data: local tokenizers trained on our comments, the comment pairs as a tokenised and
cached 🤗 ``datasets.Dataset`` for T5 and GPT-2, and the collator that keeps padding out of the
loss (-100)."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, DataCollatorForSeq2Seq, PreTrainedTokenizerFast

from utils.labels import format_labels, parse_labels, split_labels
from utils.text.styles import model_input, split_model_input

IGNORE_INDEX = -100
# Part of the cache key of encoded datasets: raise it when the encoding functions change.
ENCODING_VERSION = 1
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


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash of everything in a tokenizer that changes the ids it produces."""
    backend = tokenizer.backend_tokenizer.to_str() if tokenizer.is_fast else repr(tokenizer.get_vocab())
    specials = json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str)
    return hashlib.sha256(f"{backend}|{specials}|{tokenizer.padding_side}".encode()).hexdigest()[:16]


def _t5_columns(batch: dict[str, list], tokenizer, max_length: int, pad_to_max_length: bool) -> dict:
    """Labels → input ids, comment → target ids. With ``pad_to_max_length`` the targets are padded
    to 128 with the pad id and *kept in the loss*: the reference's recipe, kept for comparison."""
    sources = tokenizer(batch["labels_text"], truncation=True, max_length=max_length)["input_ids"]
    if pad_to_max_length:
        targets = tokenizer(batch["comment"], truncation=True, max_length=128, padding="max_length")
    else:
        targets = tokenizer(batch["comment"], truncation=True, max_length=max_length)
    return {"input_ids": sources, "labels": targets["input_ids"]}


def _gpt2_columns(batch: dict[str, list], tokenizer, data_format: int, max_length: int) -> dict:
    """Prompt + comment + eos; only the comment's tokens (and the eos) count in the loss."""
    prompts = [prompt_for(labels, data_format) for labels in batch["labels_text"]]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(batch["comment"], add_special_tokens=False)["input_ids"]
    inputs, targets = [], []
    for prompt, answer in zip(prompt_ids, answer_ids, strict=True):
        answer = answer + [tokenizer.eos_token_id]
        inputs.append((prompt + answer)[:max_length])
        targets.append(([IGNORE_INDEX] * len(prompt) + answer)[:max_length])
    return {"input_ids": inputs, "labels": targets}


def gpt2_rows(
    label_strings: Sequence[str], comments: Sequence[str], tokenizer, data_format: int
) -> list[dict]:
    """GPT-2 rows (as in training) for a few pairs, in memory: for scoring candidates."""
    columns = _gpt2_columns(
        {"labels_text": list(label_strings), "comment": list(comments)}, tokenizer, data_format, 96
    )
    return [
        {"input_ids": i, "labels": t} for i, t in zip(columns["input_ids"], columns["labels"], strict=True)
    ]


def default_cache_dir() -> Path:
    """Where encoded datasets are kept: the 🤗 datasets cache (``HF_DATASETS_CACHE``)."""
    import datasets

    return Path(datasets.config.HF_DATASETS_CACHE) / "sns_comment"


def encode_pairs(
    pairs: Sequence[tuple[str, str]],
    tokenizer,
    *,
    family: str,
    data_format: int | None = None,
    pad_to_max_length: bool = False,
    label_orders: int = 1,
    min_object_rows: int = 0,
    seed: int = 0,
    cache_dir: str | Path | None = None,
):
    """(labels, comment) pairs → a tokenised ``datasets.Dataset`` with ``input_ids`` and ``labels``
    (-100 where a position must not count), built with one batched ``map`` and cached on disk.

    The cache key is a hash of the pairs, the tokenizer and the encoding settings, so a second call
    with the same inputs loads the Arrow files instead of tokenising again, and any change to the
    data or the vocabulary builds a new entry. ``label_orders`` > 1 adds copies of each row with
    several objects, the objects in other (seeded) orders, so the model learns to name every
    label wherever it stands (see ``with_label_orders``); ``min_object_rows`` repeats rows with rare
    objects (see ``with_rare_objects_repeated``).
    """
    import datasets

    if family not in ("t5", "gpt2"):
        raise ValueError(f"unknown model family {family!r}; expected 't5' or 'gpt2'")
    if family == "gpt2":
        prompt_for("", data_format)  # rejects an unknown format before any work
    rows = with_label_orders(with_rare_objects_repeated(pairs, min_object_rows), label_orders, seed)
    settings = {
        "family": family,
        "format": data_format,
        "pad128": pad_to_max_length,
        "version": ENCODING_VERSION,
    }
    key = hashlib.sha256(
        json.dumps([rows, settings, tokenizer_fingerprint(tokenizer)], ensure_ascii=False).encode()
    ).hexdigest()[:24]
    where = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = where / key
    if (cached / "dataset_info.json").exists():
        return datasets.load_from_disk(str(cached))
    raw = datasets.Dataset.from_dict(
        {"labels_text": [labels for labels, _ in rows], "comment": [comment for _, comment in rows]}
    )
    if family == "t5":
        encode, kwargs = _t5_columns, {"max_length": 64, "pad_to_max_length": pad_to_max_length}
    else:
        encode, kwargs = _gpt2_columns, {"data_format": data_format, "max_length": 96}
    encoded = raw.map(
        encode,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer, **kwargs},
        remove_columns=raw.column_names,
        desc="tokenising",
    )
    # Written under a temporary name and renamed, so a killed run never leaves half an entry.
    partial = where / f"{key}.partial"
    encoded.save_to_disk(str(partial))
    partial.replace(cached)
    return datasets.load_from_disk(str(cached))


def with_label_orders(pairs: Sequence[tuple[str, str]], orders: int, seed: int) -> list[tuple[str, str]]:
    """Each pair, plus up to ``orders - 1`` copies whose objects come in other seeded orders
    (emotions stay first, as the label-string format says). Rows with one object are kept once."""
    if orders < 1:
        raise ValueError(f"label_orders must be at least 1, got {orders}")
    out = list(pairs)
    rng = random.Random(seed)
    for source, comment in pairs if orders > 1 else []:
        labels, style = split_model_input(source)  # a styled row keeps its style prefix
        emotions, objects = split_labels(parse_labels(labels, strict=False))
        seen = {tuple(objects)}
        for _ in range(4 * orders):
            if len(seen) >= orders:
                break
            order = tuple(rng.sample(objects, len(objects)))
            if order not in seen:
                seen.add(order)
                out.append((model_input(format_labels([*emotions, *order], strict=False), style), comment))
    return out


def with_rare_objects_repeated(pairs: Sequence[tuple[str, str]], min_rows: int) -> list[tuple[str, str]]:
    """The pairs, plus repeats of rows with rare objects: a row whose rarest object is in ``c`` rows
    is repeated until that object is in about ``min_rows`` rows (a small model otherwise swaps an
    object it saw three times for a common one: 돌고래 → 포크)."""
    objects_of = {s: split_labels(parse_labels(split_model_input(s)[0], strict=False))[1] for s, _ in pairs}
    counts = Counter(o for source, _ in pairs for o in objects_of[source])
    out = list(pairs)
    for pair in pairs:
        objects = objects_of[pair[0]]
        rarest = min((counts[o] for o in objects), default=min_rows)
        out += [pair] * (math.ceil(min_rows / rarest) - 1 if rarest < min_rows else 0)
    return out


def make_collator(tokenizer) -> DataCollatorForSeq2Seq:
    """Pads each batch to its own longest row: input ids with the pad id (attention 0), labels
    with -100, so padding never counts in the loss. Rows already padded to a fixed length (the
    reference recipe) keep their labels as they are. GPT-2 rows have labels as long as their
    inputs, so the same collator keeps them aligned."""
    return DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=IGNORE_INDEX)
