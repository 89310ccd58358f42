"""Comments from a trained text model: one class for T5 and GPT-2, batched and seeded."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    LogitsProcessor,
    LogitsProcessorList,
)
from transformers.utils import logging as hf_logging

from utils.labels import is_emotion, label_named, parse_labels, people_ko
from utils.lm.data import IGNORE_INDEX, gpt2_rows, make_collator, prompt_for
from utils.lm.decoding import Decoding, candidate_order, get_decoding, object_labels, pick_best
from utils.lm.openvino_steps import run_steps_on_openvino
from utils.text.dataset import LABEL_PARTICLES, count_emojis, ends_sentence, is_cut_off
from utils.text.grounding import main_objects
from utils.text.styles import Style, model_input, split_model_input

MODEL_INFO_FILE = "sns_comment.json"
SCORES_KEPT = 4096  # (labels, comment) scores remembered before the memory starts again
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


def _one_spaced(text: str) -> str:
    """Runs of spaces collapsed: a word the label guide starts right after a space token would
    otherwise leave two."""
    return " ".join(text.split())


def _unfinished(text: str) -> bool:
    """``validate_comment``'s "cut off" or "no emoji" for a comment being written (an empty one is
    neither), without its other checks: the guide asks this at every step of every row."""
    text = text.strip()
    return bool(text) and (is_cut_off(text) or count_emojis(text) == 0)


# A pushed label joined to the one before it by these reads as a list ("핫도그와 초밥이 …").
_JOINERS = ("와", "과", "랑", "이랑", "하고", ",", "도")
# What may follow a label the guide put at the start of a phrase: a particle, or a new word.
_PARTICLES_AFTER_LABEL = set(LABEL_PARTICLES)
_WORD_START = "\u2581"  # sentencepiece's mark of a piece that starts a word


# What the guide writes for a missing people label: the data speaks of a person as 모습 or 분, never
# as 사람, so a forced "사람" leaves the model lost ("사람 시원해 보여요"); a phrase it knows does not.
PERSON_GUIDE_TEXT = "자연스러운 모습"


def guide_text(label: str) -> str:
    """The words the label guide puts in for a missing ``label``: the label itself, or for a people
    label (사람, 남자, …) a phrase that names the person as the training comments do."""
    return PERSON_GUIDE_TEXT if label in people_ko() else label


def tokens_not_after_label(tokenizer) -> tuple[list[int], list[int]]:
    """Ids of pieces that must not follow a label the guide started a phrase with: after the
    label, anything but a particle or a new Hangul word (Hangul that would glue it to the rest of a
    word, "입" + "어디든", an emoji or a stop that would leave it as a fragment); after the label
    and its particle, anything but a new Hangul word ("비행기가 🏢" ends a sentence that never came). Empty for byte-level vocabularies (GPT-2),
    whose pieces are not whole characters."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    if not any(p and p.startswith(_WORD_START) for p in pieces):
        return [], []
    new_word = re.compile(f"{_WORD_START}([가-힣]|$)")
    not_a_word = [i for i, p in enumerate(pieces) if not (p and new_word.match(p))]
    # Right after the label: a particle or a new Hangul word; an emoji or a stop there would leave
    # the label as a fragment ("…사진이에요! 선글라스 🥰", "기린. 얼룩말이").
    glued = [i for i in not_a_word if pieces[i] not in _PARTICLES_AFTER_LABEL]
    return glued, not_a_word


class LabelGuide(LogitsProcessor):
    """Nudges greedy decoding towards the object labels a row has not named yet.

    While labels are missing, the end of sequence is held back, and where a label can start a
    phrase the first token of each missing label gets ``bias`` added to its logit; once a label's
    first token is out, its remaining tokens are forced, so the label comes out whole. A label
    starts a phrase at the start of a sentence (after the mood opener when the row has an
    emotion) or right after a label the model joined with 와/과/랑/하고/도/a comma: pushed
    anywhere, it lands mid-clause ("핫도그가 초밥이 예술이에요"). A label just named there is
    followed by a particle or a new word, not glued to the model's next word ("입어디든"). Only
    when the token budget would not leave room for the missing labels otherwise are they pushed
    anywhere. The end also waits for a complete ending and an emoji. Rows are ``batch × beams``.
    """

    def __init__(
        self,
        tokenizer,
        label_strings: Sequence[str],
        *,
        start: int,
        word_prefix: str = "",
        bias: float,
        num_beams: int = 1,
        max_new_tokens: int = 64,
    ) -> None:
        self.tokenizer = tokenizer
        self.objects = [object_labels(labels) for labels in label_strings]
        self.required = [main_objects(objects) for objects in self.objects]  # what the guide puts in
        self.emotional = [
            any(is_emotion(x) for x in parse_labels(split_model_input(labels)[0], strict=False))
            for labels in label_strings
        ]
        self.pieces = {
            o: tokenizer(word_prefix + guide_text(o), add_special_tokens=False)["input_ids"]
            for objs in self.objects
            for o in objs
        }
        self.start = start
        self.bias = bias
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        glued, not_a_word = tokens_not_after_label(tokenizer)
        self.glued = torch.tensor(glued, dtype=torch.long)
        self.not_a_word = torch.tensor(not_a_word, dtype=torch.long)

    def _forced_next(self, generated: list[int], missing: list[str]) -> int | None:
        for label in missing:
            ids = self.pieces[label]
            for done in range(len(ids) - 1, 0, -1):
                if generated[-done:] == ids[:done]:
                    return ids[done]
        return None

    def _may_start_label(self, text: str, objects: list[str], emotional: bool) -> bool:
        text = text.strip()
        if not text:
            return not emotional  # a row with an emotion opens with its mood
        return ends_sentence(text) or any(text.endswith(o + j) for o in objects for j in _JOINERS)

    def _just_started(self, text: str, objects: list[str]) -> str | None:
        """Whether ``text`` ends with its first naming of a label ("label") or that label and a
        particle ("particle") where a phrase can start: "귀가" must not go on as "귀가볍게"."""
        text = text.rstrip()
        for o in objects:
            if text.count(o) != 1:
                continue
            for ending in (o, *(o + p for p in _PARTICLES_AFTER_LABEL)):
                if text.endswith(ending) and self._may_start_label(text[: -len(ending)], objects, False):
                    return "label" if ending == o else "particle"
        return None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()
        rows = input_ids[:, self.start :].tolist()
        texts = self.tokenizer.batch_decode(rows, skip_special_tokens=True)  # one call for all rows
        for row, (generated, text) in enumerate(zip(rows, texts, strict=True)):
            objects = self.objects[row // self.num_beams]
            if not objects:
                continue
            missing = [o for o in self.required[row // self.num_beams] if not label_named(o, text)]
            forced = self._forced_next(generated, missing)
            if forced is not None:
                scores[row] = -float("inf")
                scores[row, forced] = 0.0
                continue
            started = self._just_started(text, objects) if len(self.glued) else None
            if started:
                scores[row, self.glued if started == "label" else self.not_a_word] = -float("inf")
            # A label pushed in last leaves the model where it meant to stop: hold the end back
            # until the comment also ends as a comment should (a full ending, an emoji).
            if (missing or _unfinished(text)) and self.tokenizer.eos_token_id is not None:
                scores[row, self.tokenizer.eos_token_id] = -float("inf")
            # Near the end of the token budget a label goes in wherever it can, rather than not at all.
            room = self.max_new_tokens - len(generated) - sum(len(self.pieces[m]) + 3 for m in missing)
            if room <= 0 or self._may_start_label(text, objects, self.emotional[row // self.num_beams]):
                for label in missing:
                    if room > 0 and not self._may_start_person(label, text):
                        continue
                    scores[row, self.pieces[label][0]] += self.bias
        return scores

    @staticmethod
    def _may_start_person(label: str, text: str) -> bool:
        """A people label's phrase ("자연스러운 모습") starts only a new sentence: it never opens
        the comment (the opener carries the tone) and never joins another label ("나무와
        자연스러운 모습으로 담겼어요" would make the tree the person's companion)."""
        text = text.strip()
        return label not in people_ko() or (bool(text) and ends_sentence(text))


class CommentGenerator:
    """Label strings → comments with a trained model folder (as ``utils.lm.training.train`` saves it).

    Both families decode the same named ways (``utils.lm.decoding``): the reference decoded T5
    greedily and sampled GPT-2 (``"greedy"`` and ``"sample"``); the default re-ranks n-best
    candidates so that every object is named. GPT-2's prompt is stripped from what it returns.
    """

    def __init__(self, model, tokenizer, *, family: str, data_format: int | None, name: str) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.family = family
        self.data_format = data_format
        self.name = name
        # The lowest mean log-probability per token (``score``) at which the pipeline takes this
        # model's comment: found by a blind review of this model's own comments and kept in its
        # folder's sns_comment.json; None (a model not reviewed) takes every comment that passes
        # the checks.
        self.confidence_floor: float | None = None
        # Set (sns_comment.json ``known_phrases_only``) for a model that learnt from the offline
        # composer: a sentence of its that names no label must then be a phrase of the banks.
        self.known_phrases_only = False
        self.steps_runtime = "PyTorch"  # what decodes the steps after the first (``openvino_steps``)
        self._scores: dict[tuple[str, str], float] = {}

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
        generator = cls(
            model.to(device), tokenizer, family=family, data_format=info.get("data_format") or 1, name=name
        )
        generator.confidence_floor = info.get("confidence_floor")
        generator.known_phrases_only = bool(info.get("known_phrases_only"))
        if family == "t5":
            generator.steps_runtime = run_steps_on_openvino(generator.model, model_dir / "model.safetensors")
        return generator

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def generate(
        self,
        label_strings: Sequence[str],
        *,
        decoding: str | Decoding | None = None,
        seed: int = 0,
        batch_size: int = 16,
        max_new_tokens: int = 64,
        style: str | Style | None = None,
        **overrides,
    ) -> list[str]:
        """One comment per label string. ``decoding``: a name in ``DECODINGS`` or a ``Decoding``
        (default ``DEFAULT_DECODING``, what the pipeline uses); keyword ``overrides`` change its
        fields (``num_beams=4``, ``do_sample=True``) or go to ``model.generate`` as they are.
        ``style`` goes in front of the labels as the model-input prefix (None: the inputs as given)."""
        label_strings = [model_input(labels, style) for labels in label_strings]
        chosen, extra = get_decoding(decoding).with_overrides(overrides)
        torch.manual_seed(seed)
        out: list[str] = []
        for start in range(0, len(label_strings), batch_size):
            batch = list(label_strings[start : start + batch_size])
            if chosen.guide_only:
                out += self._decode(batch, chosen.guided_kwargs(), max_new_tokens, guide=chosen.guide_bias)
            elif not chosen.reranks:
                out += self._decode(batch, chosen.generate_kwargs() | extra, max_new_tokens)
            else:
                out += self._rerank(batch, chosen, extra, max_new_tokens)
        return out

    def candidates(
        self, label_strings: Sequence[str], decoding: Decoding, max_new_tokens: int = 64, **extra
    ) -> list[list[str]]:
        """``decoding.candidates`` comments per label string (beams or samples), plus the
        label-guided one when ``decoding.guided``, duplicates removed, in the model's order."""
        per_input = decoding.candidates
        flat = self._decode(list(label_strings), decoding.generate_kwargs() | extra, max_new_tokens)
        grouped = [flat[i * per_input : (i + 1) * per_input] for i in range(len(label_strings))]
        if decoding.guided:
            guided = self._decode(
                list(label_strings), decoding.guided_kwargs(), max_new_tokens, guide=decoding.guide_bias
            )
            grouped = [group + [g] for group, g in zip(grouped, guided, strict=True)]
        return [list(dict.fromkeys(group)) for group in grouped]

    def _rerank(self, batch: list[str], decoding: Decoding, extra: dict, max_new_tokens: int) -> list[str]:
        pools = self.candidates(batch, replace(decoding, guided=False), max_new_tokens, **extra)
        # The model's scores only break ties between candidates: a pool of one needs none unless
        # it meets the guided candidate below.
        several = [i for i, pool in enumerate(pools) if len(pool) > 1]
        flat_scores = self.score(
            [batch[i] for i in several for _ in pools[i]], [c for i in several for c in pools[i]]
        )
        best: list[tuple[str, float | None]] = [(pool[0], None) for pool in pools]
        for i in several:
            scores, flat_scores = flat_scores[: len(pools[i])], flat_scores[len(pools[i]) :]
            pick = pick_best(pools[i], batch[i], scores)
            best[i] = (pools[i][pick], scores[pick])
        # Only inputs whose n-best still leaves out an object pay for the guided candidate.
        lacking = [
            i for i, (comment, _) in enumerate(best) if candidate_order(comment, batch[i], 0.0)[1] > -1
        ]
        if decoding.guided and lacking:
            labels = [batch[i] for i in lacking]
            guided = self._decode(labels, decoding.guided_kwargs(), max_new_tokens, guide=decoding.guide_bias)
            unscored = [i for i in lacking if best[i][1] is None]
            flat_scores = self.score(
                [batch[i] for i in unscored] + labels, [best[i][0] for i in unscored] + guided
            )
            for i, score in zip(unscored, flat_scores, strict=False):
                best[i] = (best[i][0], score)
            for i, comment, score in zip(lacking, guided, flat_scores[len(unscored) :], strict=True):
                if pick_best([best[i][0], comment], batch[i], [best[i][1], score]) == 1:
                    best[i] = (comment, score)
        return [comment for comment, _ in best]

    def _decode(
        self, batch: list[str], kwargs: dict, max_new_tokens: int, guide: float | None = None
    ) -> list[str]:
        """Comments for a batch; ``guide``: the bias of a ``LabelGuide`` (None: no guide)."""
        if self.family == "t5":
            enc = self.tokenizer(batch, return_tensors="pt", padding=True).to(self.device)
            start, prefix = 1, ""  # the decoder starts with its start token; labels are whole words
        else:
            self.tokenizer.padding_side = "left"  # generation continues from the right end
            prompts = [prompt_for(labels, self.data_format) for labels in batch]
            enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = enc.to(self.device)
            start, prefix = enc["input_ids"].shape[1], " "
            kwargs = {
                "pad_token_id": self.tokenizer.pad_token_id,
                "eos_token_id": self.tokenizer.eos_token_id,
            } | kwargs
        if guide is not None:
            processor = LabelGuide(
                self.tokenizer,
                batch,
                start=start,
                word_prefix=prefix,
                bias=guide,
                num_beams=kwargs.get("num_beams", 1),
                max_new_tokens=max_new_tokens,
            )
            kwargs = kwargs | {"logits_processor": LogitsProcessorList([processor])}
        ids = self.model.generate(**enc, max_new_tokens=max_new_tokens, **kwargs)
        if self.family == "t5":
            return [_one_spaced(text) for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
        texts = self.tokenizer.batch_decode(ids[:, start:], skip_special_tokens=True)
        # A comment is one line; anything after a newline is the model starting another example.
        return [_one_spaced(text.strip().split("\n")[0]) for text in texts]

    def score(self, label_strings: Sequence[str], comments: Sequence[str]) -> list[float]:
        """Mean log-probability per token of each comment (and its end) given its labels: the
        model's own length-normalised score, for candidates however they were produced.
        Remembered per (labels, comment): the re-ranking, the confidence floor and the retries
        ask about the same comments."""
        pairs = list(zip(label_strings, comments, strict=True))
        missing = list(dict.fromkeys(p for p in pairs if p not in self._scores))
        if missing:
            if len(self._scores) > SCORES_KEPT:
                self._scores.clear()
            found = self._score([p[0] for p in missing], [p[1] for p in missing])
            self._scores.update(zip(missing, found, strict=True))
        return [self._scores[p] for p in pairs]

    def forget_scores(self) -> None:
        """Empty the memory of :meth:`score` (a benchmark round starts as a new process would)."""
        self._scores.clear()

    @torch.inference_mode()
    def _score(self, label_strings: Sequence[str], comments: Sequence[str]) -> list[float]:
        if self.family == "t5":
            enc = self.tokenizer(list(label_strings), return_tensors="pt", padding=True).to(self.device)
            target = self.tokenizer(list(comments), return_tensors="pt", padding=True).to(self.device)
            labels = target["input_ids"].masked_fill(target["attention_mask"] == 0, IGNORE_INDEX)
            logits = self.model(**enc, labels=labels).logits
        else:
            rows = gpt2_rows(label_strings, comments, self.tokenizer, self.data_format)
            self.tokenizer.padding_side = "right"
            batch = make_collator(self.tokenizer)(rows).to(self.device)
            logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logits, labels = logits[:, :-1], batch["labels"][:, 1:]
        mask = labels != IGNORE_INDEX
        picked = (
            torch.log_softmax(logits.float(), dim=-1)
            .gather(-1, labels.clamp(min=0).unsqueeze(-1))
            .squeeze(-1)
        )
        totals = (picked * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return totals.tolist()
