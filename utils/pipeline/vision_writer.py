"""The vision writer: a photo, its detected labels and the style go to OpenAI or Gemini, whose
answer must pass the same checks as any comment; when it fails, is refused, or the API cannot
be reached, the local text model writes (``CommentPipeline(writer=...)``, ``comment --writer``).

The request goes through the data generation's calls (``utils.datagen.calls.answer_requests``):
its retries, back-off and regeneration of a comment that fails ``validate_comment``. No key or no
network gives one line on stderr, once, and the local model writes every comment.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from utils.datagen import backends as llm_backends
from utils.datagen.backends import KEY_VARIABLES, MissingKeyError, make_llm_backend
from utils.datagen.base import Backend, Request
from utils.datagen.calls import Tries, answer_requests
from utils.datagen.images import DEFAULT_SIDES, encode_image
from utils.text.styles import Style

LOCAL_WRITER = "t5"
WRITERS = (LOCAL_WRITER, *KEY_VARIABLES)  # t5, openai, gemini
REGENERATIONS = 2  # a comment that fails the checks (or a refusal) is asked for again this often
RETRIES = 2  # per call: a 429, a 5xx, a time-out
TIMEOUT = 20.0  # seconds per call


@dataclass
class WrittenComment:
    """The vision model's comment for one photo, or None and why not."""

    comment: str | None
    problem: str | None = None


def writers_with_keys(env_file: str | Path | None = None) -> list[str]:
    """The writers usable here: the local model, and each LLM whose key is set (for the page's menu)."""
    env_file = env_file or llm_backends.ENV_FILE
    return [
        LOCAL_WRITER,
        *(name for name, names in KEY_VARIABLES.items() if llm_backends.setting(names, env_file)),
    ]


class VisionWriter:
    """One LLM (``openai`` or ``gemini``) writing comments on photos; see the module's docstring."""

    def __init__(
        self,
        backend: Backend,
        *,
        image_side: int | None = None,
        concurrency: int = 4,
        timeout: float = TIMEOUT,
    ) -> None:
        self.backend = backend
        self.image_side = image_side or DEFAULT_SIDES.get(backend.name.split("/")[0], 512)
        self.concurrency = concurrency
        self.timeout = timeout
        self.unavailable: str | None = None  # set when the API could not be reached: the rest go local

    @property
    def name(self) -> str:
        return self.backend.name

    def describe(self) -> str:
        """What the result's ``models`` says wrote a comment."""
        return f"{self.name} (vision: the photo at {self.image_side} px and its labels)"

    def write(
        self, photos: Sequence[Image.Image], labels: Sequence[str], style: Style
    ) -> list[WrittenComment]:
        """One comment per (photo, labels), each valid for its labels and ``style``, or None and the
        problem (its last failed try). When every request fails without an answer (no network, a
        wrong address, a 401), the writer says so once on stderr and declines every later call."""
        if self.unavailable:
            return [WrittenComment(None, self.unavailable) for _ in photos]
        if not photos:
            return []
        requests = [
            Request(str(i), text, style=style, image=encode_image(photo, self.image_side))
            for i, (photo, text) in enumerate(zip(photos, labels, strict=True))
        ]
        try:
            answers, _ = answer_requests(
                self.backend,
                requests,
                concurrency=self.concurrency,
                tries=Tries(
                    max_regenerations=REGENERATIONS, max_retries=RETRIES, base_delay=0.5, timeout=self.timeout
                ),
            )
        except llm_backends.api_errors() as e:  # a 401, a 400, no credit: no use asking again
            self.unavailable = (
                f"{self.name} refused the request ({self.backend.redact(' '.join(str(e).split()))[:200]})"
            )
            note(f"{self.unavailable}; the local text model writes the comments.")
            return [WrittenComment(None, self.unavailable) for _ in photos]
        written = [
            WrittenComment(
                comment, None if comment else "; ".join(tried[-1]["problems"]) if tried else "no answer"
            )
            for comment, tried in answers
        ]
        unanswered = all(
            comment is None and tried and tried[-1]["comment"] is None for comment, tried in answers
        )
        if unanswered:
            self.unavailable = f"{self.name} did not answer ({written[0].problem})"
            note(f"{self.unavailable}; the local text model writes the comments.")
        return written


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def open_writer(
    name: str | None,
    *,
    model: str | None = None,
    image_side: int | None = None,
    env_file: str | Path | None = None,
) -> VisionWriter | None:
    """The vision writer ``name`` (``openai`` / ``gemini``; the key and a base URL from the environment
    or ``.env``), or None for the local model, also after a one-line note when its key is missing."""
    if name in (None, LOCAL_WRITER):
        return None
    if name not in WRITERS:
        raise ValueError(f"unknown comment writer {name!r}; expected one of {', '.join(WRITERS)}")
    try:
        backend = make_llm_backend(name, model=model, timeout=TIMEOUT, env_file=env_file)
    except MissingKeyError:
        wanted = " or ".join(KEY_VARIABLES[name])
        note(
            f"--writer {name}: {wanted} is not set (export it, or put it in .env in the repository root); "
            "the local text model writes the comments."
        )
        return None
    return VisionWriter(backend, image_side=image_side)
