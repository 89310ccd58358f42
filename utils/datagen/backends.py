"""LLM backends for ``utils.datagen.runner``: OpenAI chat completions and Gemini (google-genai), for
label strings and, with a request's photo attached, as vision models; the OpenAI Batch API path is
in ``utils.datagen.batch``.

The SDKs' own retries are switched off: the runner in ``datagen`` owns retries, backoff and the
rate limit, so every failure worth another try is turned into ``llm_types.RetryableError`` here
(429 with its Retry-After, 5xx, time-outs, dropped connections, empty or malformed bodies); a
refusal comes back as a ``Completion`` with ``refusal`` set, for the runner to regenerate.
Keys come only from the environment or a git-ignored ``.env`` in the repository root, and
``Backend.redact`` masks them in every message the project writes.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from utils.datagen.base import (
    Backend,
    Completion,
    Request,
    RetryableError,
    completion_from_openai_json,
)
from utils.datagen.batch import run_openai_batch  # noqa: F401 (the Batch API path, where callers find it)
from utils.datagen.images import for_model, openai_detail
from utils.paths import ROOT

ENV_FILE = ROOT / ".env"
KEY_VARIABLES = {"openai": ("OPENAI_API_KEY",), "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
BASE_URL_VARIABLES = {"openai": "OPENAI_BASE_URL", "gemini": "GEMINI_BASE_URL"}
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "gemini": "gemini-2.0-flash"}
# USD per million (input, output) tokens, list prices of the standard tier.
PRICES = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.0-flash-lite": (0.075, 0.30),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
}
MAX_OUTPUT_TOKENS = 200  # ~80 Korean characters need ~60-100 tokens
TEMPERATURE = 0.9
RETRYABLE_STATUS = {408, 409, 429}


class MissingKeyError(RuntimeError):
    """No API key for the chosen backend in the environment or in ``.env``."""


def read_env_file(path: str | Path = ENV_FILE) -> dict[str, str]:
    """``KEY=VALUE`` lines of a ``.env`` file (comments, ``export`` and quotes allowed)."""
    path = Path(path)
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def setting(names: Sequence[str], env_file: str | Path = ENV_FILE) -> str | None:
    """The first of ``names`` set in the environment, else in ``env_file``."""
    file_values = read_env_file(env_file)
    for source in (os.environ, file_values):
        for name in names:
            if source.get(name, "").strip():
                return source[name].strip()
    return None


def require_key(backend: str, env_file: str | Path = ENV_FILE) -> str:
    names = KEY_VARIABLES[backend]
    key = setting(names, env_file)
    if key is None:
        wanted = " or ".join(names)
        raise MissingKeyError(
            f"{wanted} is not set: export it, or add a line {names[0]}=... to {Path(env_file).name} "
            f"in the repository root (git-ignored); or use --backend offline"
        )
    return key


def default_backend_name(env_file: str | Path | None = None) -> str:
    """``openai`` or ``gemini`` when its key is set (OpenAI first), else ``offline``."""
    for name, names in KEY_VARIABLES.items():
        if setting(names, env_file or ENV_FILE):
            return name
    return "offline"


def price_for(model: str) -> tuple[float, float]:
    """List price of ``model`` (a dated variant such as gpt-4o-mini-2024-07-18 included)."""
    return for_model(PRICES, model) or (0.0, 0.0)


def api_errors() -> tuple[type[Exception], ...]:
    """The SDKs' own error classes (a 401, a 400, no credit): not retried, reported in one line."""
    classes: list[type[Exception]] = []
    try:
        import openai

        classes.append(openai.APIError)
    except ImportError:
        pass
    try:
        from google.genai import errors

        classes.append(errors.APIError)
    except ImportError:
        pass
    return tuple(classes)


class _KeyedBackend(Backend):
    """A backend holding an API key, which it masks in any text it is asked to redact."""

    _client: _PerLoopClient

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    async def prepare(self) -> None:
        await self._client.get()


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked us to wait: ``retry-after-ms``, or ``retry-after`` in seconds or
    as an HTTP date."""
    if not headers:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _gemini_retry_delay(details: Any) -> float | None:
    """Gemini puts the wait in the error body (google.rpc.RetryInfo ``retryDelay: "37s"``)."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for item in error.get("details", []) if isinstance(error, dict) else []:
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        if isinstance(delay, str) and (match := re.fullmatch(r"([\d.]+)s", delay)):
            return float(match.group(1))
    return None


def _transport_errors() -> tuple[type[Exception], ...]:
    """Time-outs and dropped connections of httpx and its fork httpx2 (google-genai uses either)."""
    classes = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        classes.append(module.TransportError)
    return tuple(classes)


class _PerLoopClient:
    """Async SDK clients hold connections bound to one event loop, and ``generate_dataset`` runs
    each call in a fresh loop: so each loop gets its own client, closed before that loop ends."""

    def __init__(self, factory: Callable[[], Any], close: Callable[[Any], Awaitable[None]]) -> None:
        self._factory, self._close = factory, close
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._closer: Any = None

    async def get(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._client, self._loop = self._factory(), loop
            # asyncio.run() closes every open async generator (shutdown_asyncgens) before it
            # closes the loop: this one closes the client there, while its loop still runs.
            self._closer = self._close_at_loop_end(self._client)
            await self._closer.__anext__()
        return self._client

    async def _close_at_loop_end(self, client: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self._close(client)


class OpenAIBackend(_KeyedBackend):
    """Chat completions through the official SDK (``AsyncOpenAI``, ``max_retries=0``); a request's
    photo goes as an ``image_url`` part holding a JPEG data URL."""

    def __init__(self, api_key: str, model: str, base_url: str | None = None, timeout: float = 30.0) -> None:
        import openai

        super().__init__(api_key)
        self._openai = openai
        self.model = model
        self.name = f"openai/{model}"
        self.price_per_million = price_for(model)
        self.client_args = {"api_key": api_key, "base_url": base_url, "timeout": timeout, "max_retries": 0}
        self._client = _PerLoopClient(lambda: openai.AsyncOpenAI(**self.client_args), lambda c: c.close())

    def request_body(self, request: Request) -> dict[str, Any]:
        """The chat-completions body, shared by the live calls and the Batch API request file."""
        messages: list[dict[str, Any]] = list(request.messages)
        if (image := request.image) is not None:
            text = messages[-1]["content"]
            detail = openai_detail(image.width, image.height)
            messages[-1] = messages[-1] | {
                "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": image.data_url, "detail": detail}},
                ]
            }
        return {
            "model": self.model,
            "messages": messages,
            "max_completion_tokens": MAX_OUTPUT_TOKENS,
            "temperature": TEMPERATURE,
        }

    async def complete(self, request: Request) -> Completion:
        openai = self._openai
        try:
            response = await (await self._client.get()).chat.completions.create(**self.request_body(request))
        except openai.RateLimitError as e:
            if e.code == "insufficient_quota":  # out of credit: waiting will not help
                raise
            raise RetryableError(
                f"429 rate limited: {e.message}", retry_after_seconds(e.response.headers)
            ) from e
        except openai.APIStatusError as e:
            if e.status_code in RETRYABLE_STATUS or e.status_code >= 500:
                raise RetryableError(
                    f"HTTP {e.status_code}: {e.message}", retry_after_seconds(e.response.headers)
                ) from e
            raise
        except openai.APITimeoutError as e:
            raise RetryableError("time-out waiting for OpenAI") from e
        except openai.APIConnectionError as e:
            raise RetryableError(f"connection error: {e}") from e
        except ValueError as e:  # a body that is not JSON
            raise RetryableError(f"malformed response body: {e}") from e
        return completion_from_openai_json(response)


class GeminiBackend(_KeyedBackend):
    """Gemini through ``google-genai`` (``client.aio.models.generate_content``, no SDK retries); a
    request's photo goes as inline JPEG bytes after the prompt."""

    def __init__(self, api_key: str, model: str, base_url: str | None = None, timeout: float = 30.0) -> None:
        from google import genai
        from google.genai import errors, types

        super().__init__(api_key)
        self._errors, self._types = errors, types
        self.model = model
        self.name = f"gemini/{model}"
        self.price_per_million = price_for(model)
        # HttpOptions.timeout is in milliseconds; no retry_options means a single try.
        http_options = types.HttpOptions(base_url=base_url, timeout=int(timeout * 1000))
        self._client = _PerLoopClient(
            lambda: genai.Client(api_key=api_key, http_options=http_options), lambda c: c.aio.aclose()
        )

    async def complete(self, request: Request) -> Completion:
        system = [m["content"] for m in request.messages if m["role"] == "system"]
        contents = [
            {"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
            for m in request.messages
            if m["role"] != "system"
        ]
        if (image := request.image) is not None:
            contents[-1]["parts"].append(
                self._types.Part.from_bytes(data=image.jpeg, mime_type=image.mime_type)
            )
        config = self._types.GenerateContentConfig(
            system_instruction="\n".join(system) or None,
            temperature=TEMPERATURE,
            max_output_tokens=MAX_OUTPUT_TOKENS,
        )
        try:
            response = await (await self._client.get()).aio.models.generate_content(
                model=self.model, contents=contents, config=config
            )
        except self._errors.APIError as e:
            if e.code in RETRYABLE_STATUS or (e.code or 0) >= 500:
                headers = getattr(e.response, "headers", None)
                wait = retry_after_seconds(headers) or _gemini_retry_delay(e.details)
                raise RetryableError(f"{e.code} {e.status}: {e.message}", wait) from e
            raise
        except _transport_errors() as e:
            raise RetryableError(f"time-out or connection error: {type(e).__name__}") from e
        except ValueError as e:  # a body that is not JSON, or JSON of the wrong shape
            raise RetryableError(f"malformed response body: {e}") from e
        usage = response.usage_metadata
        prompt_tokens = (usage.prompt_token_count or 0) if usage else 0
        completion_tokens = (usage.candidates_token_count or 0) if usage else 0
        text = response.text
        if text is None:
            if refusal := _gemini_block_reason(response):
                return Completion("", prompt_tokens, completion_tokens, refusal=refusal)
            raise RetryableError("response without text")
        return Completion(text, prompt_tokens, completion_tokens)


# Finish reasons that mean the model declined (the others without text are faults worth a retry).
GEMINI_REFUSALS = {
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
}


def _gemini_block_reason(response: Any) -> str | None:
    """Why Gemini gave no text, when it declined: the prompt was blocked, or the answer stopped for safety."""
    feedback = getattr(response, "prompt_feedback", None)
    if feedback is not None and feedback.block_reason:
        return f"prompt blocked ({getattr(feedback.block_reason, 'value', feedback.block_reason)})"
    for candidate in response.candidates or []:
        reason = getattr(candidate.finish_reason, "value", candidate.finish_reason)
        if reason in GEMINI_REFUSALS:
            return f"answer stopped ({reason})"
    return None


BACKENDS = {"openai": OpenAIBackend, "gemini": GeminiBackend}


def make_llm_backend(
    name: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    timeout: float = 30.0,
    env_file: str | Path | None = None,
) -> Backend:
    """``openai`` or ``gemini``. The key (and a base URL, for a proxy or a test server) comes from
    the environment, else from ``env_file`` (default: ``.env`` in the repository root); a missing
    key raises ``MissingKeyError`` naming the variable. ``timeout`` is per request, in seconds."""
    if name not in BACKENDS:
        raise ValueError(f"unknown LLM backend {name!r}; expected one of {', '.join(BACKENDS)}")
    env_file = env_file or ENV_FILE
    key = require_key(name, env_file)
    base_url = base_url or setting([BASE_URL_VARIABLES[name]], env_file)
    return BACKENDS[name](key, model or DEFAULT_MODELS[name], base_url=base_url, timeout=timeout)
