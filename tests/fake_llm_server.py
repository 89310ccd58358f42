"""A local stand-in for the OpenAI and Gemini REST APIs, so tests and benchmarks drive the real
SDKs over real HTTP (``base_url`` / ``http_options``) without a key or a network.

Endpoints: OpenAI ``POST /v1/chat/completions``, the Batch API (``POST /v1/files``,
``POST /v1/batches``, ``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content``) and Gemini
``POST /{version}/models/{model}:generateContent``. By default every model call answers with a
valid Korean comment from the offline composer for the labels and the style in the prompt; a plan
of replies (429 with Retry-After, 500, a stall, an empty or malformed body, a question, a refusal
...) is consumed one per model call first. Optional fixed latency and a requests-per-minute limit
that answers 429 when exceeded; counters say what the server saw.

Vision requests are checked on the wire: each image part (OpenAI's ``image_url`` data URL,
Gemini's ``inlineData``) must decode to a JPEG, of ``expect_image_side`` px on its long side
when that is set; a request that fails answers 400 naming the problem, and ``images_seen`` /
``prompts_seen`` record what came (size, format, detail; labels, style, whether a photo came).

    with FakeLLMServer(latency=0.2) as server:
        server.push(Reply.rate_limited(1), Reply.server_error())
        client = openai.OpenAI(api_key="test", base_url=server.openai_url)
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import io
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from utils import labels as vocab
from utils.text.composer import OfflineComposer
from utils.text.styles import DEFAULT_STYLE, LEVELS, TONES, Style

LABELS_LINE = re.compile(r"sns 사진 요소 : ([^\n]*)")
ENGLISH_NAME_LINE = re.compile(r"영어 이름: ([^\n]*)")  # utils.datagen.translation's prompt
GEMINI_PATH = re.compile(r"^/(v1[a-z0-9]*)/models/([^/:]+):generateContent$")
# datagen.prompt's system message for a style other than the default.
STYLE_LINE = re.compile(rf"말투는 ({'|'.join(LEVELS)})\(\w+\), 어조는 ({'|'.join(TONES)})\(")
# An emoji no phrase bank has: the composer's own could come again ("emoji repeated").
QUESTION = " 여기는 어디인가요? 🤔"
REFUSAL = "I'm sorry, but I can't help with that."


@dataclass(frozen=True)
class Reply:
    """What the server does for one model call."""

    kind: str = "ok"  # ok | question | rate_limited | server_error | stall | empty | malformed | refusal
    text: str | None = None  # for "ok": this text instead of a composed comment
    retry_after: float | None = None
    seconds: float = 0.0  # for "stall": wait this long, then answer normally
    status: int = 500

    @classmethod
    def ok(cls, text: str | None = None) -> Reply:
        return cls("ok", text=text)

    @classmethod
    def question(cls) -> Reply:
        return cls("question")

    @classmethod
    def rate_limited(cls, retry_after: float | None = 1.0) -> Reply:
        return cls("rate_limited", retry_after=retry_after, status=429)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls("server_error", status=status)

    @classmethod
    def stall(cls, seconds: float) -> Reply:
        return cls("stall", seconds=seconds)

    @classmethod
    def empty(cls) -> Reply:
        return cls("empty")

    @classmethod
    def malformed(cls) -> Reply:
        return cls("malformed")

    @classmethod
    def refusal(cls) -> Reply:
        """OpenAI: no content and a ``refusal``; Gemini: a candidate stopped for SAFETY, no text."""
        return cls("refusal")


@dataclass(frozen=True)
class SeenImage:
    """One image part as the server decoded it."""

    mime_type: str
    format: str | None  # Pillow's name for the decoded bytes ("JPEG"), None if they do not decode
    width: int = 0
    height: int = 0
    detail: str | None = None  # OpenAI's detail ("low" / "high")
    problem: str | None = None  # why the request was answered 400, if it was


@dataclass(frozen=True)
class SeenPrompt:
    """What one model call asked for: the labels and the style in its prompt, and its images."""

    labels: str
    style: Style
    images: int


_COMPOSER: list[OfflineComposer] = []
_COMPOSER_LOCK = threading.Lock()


def _composer() -> OfflineComposer:
    """One composer per process, warmed before the first server answers: its first comment loads
    the Korean analyser (seconds on a busy machine), which must not eat a client's time-out."""
    with _COMPOSER_LOCK:
        if not _COMPOSER:
            composer = OfflineComposer(seed=7)
            composer.compose("기쁨, 나무", key=0)
            _COMPOSER.append(composer)
        return _COMPOSER[0]


def labels_in_prompt(texts: list[str]) -> str:
    """The label string ``datagen.build_messages`` put last in the prompt."""
    found = [m.group(1).strip() for text in texts for m in LABELS_LINE.finditer(text)]
    return found[-1] if found else ""


def style_in_prompt(texts: list[str]) -> Style:
    """The style ``datagen.build_messages`` asked for (its system message names a non-default one)."""
    for text in texts:
        if match := STYLE_LINE.search(text):
            return Style(match.group(1), match.group(2))
    return DEFAULT_STYLE


def openai_parts(messages: list[dict]) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Texts and (data URL, detail) images of chat messages (content a string or a list of parts)."""
    texts: list[str] = []
    images: list[tuple[str, str | None]] = []
    for message in messages:
        content = message.get("content") or ""
        for part in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            if part.get("type") == "text":
                texts.append(part.get("text") or "")
            elif part.get("type") == "image_url":
                images.append((part["image_url"].get("url", ""), part["image_url"].get("detail")))
    return texts, images


def gemini_parts(request: dict) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Texts (the system instruction's too) and images (as data URLs) of a generateContent body."""
    system = request.get("systemInstruction") or request.get("system_instruction") or {}
    contents = [system, *request.get("contents", [])]
    texts, images = [], []
    for part in (p for c in contents for p in c.get("parts", [])):
        if "text" in part:
            texts.append(part["text"])
        inline = part.get("inlineData") or part.get("inline_data")
        if inline:
            mime = inline.get("mimeType") or inline.get("mime_type") or ""
            # The proto JSON mapping takes bytes in either base64 alphabet; google-genai sends the URL-safe one.
            data = inline.get("data", "").replace("-", "+").replace("_", "/")
            images.append((f"data:{mime};base64,{data}", None))
    return texts, images


def decode_image(url: str, detail: str | None, expect_side: int | None) -> SeenImage:
    """A data URL → what it holds; ``problem`` says why a real API (or this test) would refuse it."""
    head, _, data = url.partition(",")
    mime = head.removeprefix("data:").removesuffix(";base64")
    if not head.startswith("data:") or not head.endswith(";base64"):
        return SeenImage(mime, None, detail=detail, problem=f"not a base64 data URL: {url[:40]!r}")
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as image:
            seen = SeenImage(mime, image.format, *image.size, detail=detail)
    except (binascii.Error, OSError, ValueError) as e:
        return SeenImage(mime, None, detail=detail, problem=f"image does not decode: {e}")
    if seen.format != "JPEG" or mime != "image/jpeg":
        return SeenImage(
            mime, seen.format, seen.width, seen.height, detail, f"{mime} holding {seen.format}, not a JPEG"
        )
    if expect_side is not None and max(seen.width, seen.height) != expect_side:
        problem = f"image is {seen.width}x{seen.height}, expected {expect_side} px on its long side"
        return SeenImage(mime, seen.format, seen.width, seen.height, detail, problem)
    return seen


class FakeLLMServer:
    """Threaded HTTP server on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rpm: float | None = None,
        burst: int = 2,
        default: Reply | None = None,
        batch_polls: int = 2,
        expect_image_side: int | None = None,
        echo_key_in_errors: bool = False,
    ) -> None:
        self.latency = latency
        self.rpm = rpm
        self.burst = burst  # token-bucket depth: tolerates a well-spaced caller's jitter, not bursts
        self.default = default or Reply.ok()  # the reply when the plan is empty
        self.batch_polls = batch_polls  # GETs a batch needs before it reports "completed"
        self.expect_image_side = expect_image_side  # long side every image must have, if set
        # A 401 names the key it got, as a careless API would: the project must not repeat it.
        self.echo_key_in_errors = echo_key_in_errors
        self.images_seen: list[SeenImage] = []
        self.prompts_seen: list[SeenPrompt] = []
        self.composer = _composer()
        self.plan: deque[Reply] = deque()
        self.model_calls = 0  # chat / generateContent requests seen
        self.rate_limited_sent = 0  # 429s answered (plan or rpm limit)
        self.call_times: list[float] = []  # monotonic arrival of each accepted model call
        self.paths: list[str] = []
        self.keys_seen: list[str] = []  # API key of each request (Bearer or x-goog-api-key)
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self._httpd: ThreadingHTTPServer | None = None

    # -- control ---------------------------------------------------------------------------------
    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.plan.extend(replies)

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> FakeLLMServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # stalled handlers must not hold up shutdown
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour -------------------------------------------------------------------------------
    def next_reply(self) -> Reply:
        """The planned reply, or a 429 when over the rpm limit, or the default."""
        with self._lock:
            self.model_calls += 1
            if self.rpm and not self._take_token():
                self.rate_limited_sent += 1
                return Reply.rate_limited(retry_after=round(60.0 / self.rpm, 3))
            reply = self.plan.popleft() if self.plan else self.default
            if reply.kind == "rate_limited":
                self.rate_limited_sent += 1
            else:
                self.call_times.append(time.monotonic())
            return reply

    def _take_token(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rpm / 60.0)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def comment_for(self, reply: Reply, labels: str, texts: Sequence[str] = ()) -> str:
        """The answer text: the planned text, a class name for a translation prompt, or a comment
        in the prompt's style."""
        if reply.text is not None:
            return reply.text
        names = [m.group(1).strip() for text in texts for m in ENGLISH_NAME_LINE.finditer(text)]
        if names:
            return vocab.ko_name(names[-1])
        with self._lock:
            key = next(self._ids)
        style = style_in_prompt(list(texts))
        comment = self.composer.compose(labels, key=key, style=style) if labels else "좋은 사진이네요! 😊"
        if reply.kind != "question":
            return comment
        # The question ends the last sentence instead of adding one, so that it is the comment's
        # only fault (a fourth sentence would be another: MAX_SENTENCES).
        return re.sub(r"[.!~…]+[^가-힣]*$", "", comment) + QUESTION

    def check(self, texts: list[str], images: list[tuple[str, str | None]]) -> str | None:
        """Record the prompt and its images; the first image problem, or None when all are fine."""
        seen = [decode_image(url, detail, self.expect_image_side) for url, detail in images]
        with self._lock:
            self.images_seen.extend(seen)
            self.prompts_seen.append(SeenPrompt(labels_in_prompt(texts), style_in_prompt(texts), len(seen)))
        return next((image.problem for image in seen if image.problem), None)

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-{next(self._ids)}"


def openai_completion(text: str, model: str, prompt: str) -> dict[str, Any]:
    prompt_tokens, completion_tokens = len(prompt) // 2, len(text)
    return {
        "id": f"chatcmpl-{abs(hash((text, prompt))) % 10**8}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def gemini_response(text: str, model: str, prompt: str) -> dict[str, Any]:
    prompt_tokens, completion_tokens = len(prompt) // 2, len(text)
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": completion_tokens,
            "totalTokenCount": prompt_tokens + completion_tokens,
        },
        "modelVersion": model,
    }


def openai_refusal(model: str, prompt: str) -> dict[str, Any]:
    """A chat completion whose message declines: no content, a ``refusal`` string."""
    body = openai_completion("", model, prompt)
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": REFUSAL}
    return body


def gemini_refusal(model: str, prompt: str) -> dict[str, Any]:
    """A generateContent answer stopped for safety: a candidate with no content."""
    body = gemini_response("", model, prompt)
    body["candidates"] = [
        {
            "finishReason": "SAFETY",
            "index": 0,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "MEDIUM", "blocked": True}
            ],
        }
    ]
    return body


def _error_body(reply: Reply, gemini: bool, key: str = "") -> dict[str, Any]:
    if reply.kind == "rate_limited":
        message, status = "Rate limit reached for requests", "RESOURCE_EXHAUSTED"
    elif reply.status == 401:
        message, status = f"Incorrect API key provided: {key}.", "UNAUTHENTICATED"
    elif reply.status == 400:
        message, status = f"Invalid request: {reply.text}", "INVALID_ARGUMENT"
    else:
        message, status = "The server had an error while processing your request.", "INTERNAL"
    if gemini:
        return {"error": {"code": reply.status, "message": message, "status": status}}
    return {"error": {"message": message, "type": "requests" if reply.status == 429 else "server_error"}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers=None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its time-out): nothing to answer

    def _json(self, status: int, data: Any, headers=None) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), headers=headers)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _record(self) -> None:
        self.fake.paths.append(self.path)
        key = self.headers.get("x-goog-api-key") or self.headers.get("Authorization", "").removeprefix(
            "Bearer "
        )
        self.fake.keys_seen.append(key)
        self.key = key

    def do_GET(self) -> None:
        fake = self.fake
        self._record()
        if match := re.fullmatch(r"/v1/batches/([\w-]+)", self.path):
            batch = fake.batches.get(match.group(1))
            if batch is None:
                return self._json(404, {"error": {"message": "no such batch"}})
            batch["polls"] += 1
            if batch["polls"] >= fake.batch_polls and batch["status"] != "completed":
                self._finish_batch(batch)
            elif batch["status"] == "validating":
                batch["status"] = "in_progress"
            return self._json(200, {k: v for k, v in batch.items() if k != "polls"})
        if match := re.fullmatch(r"/v1/files/([\w-]+)/content", self.path):
            content = fake.files.get(match.group(1))
            if content is None:
                return self._json(404, {"error": {"message": "no such file"}})
            return self._send(200, content, "application/octet-stream")
        self._json(404, {"error": {"message": f"unknown path {self.path}"}})

    def do_POST(self) -> None:
        fake = self.fake
        self._record()
        body = self._body()
        if self.path == "/v1/chat/completions":
            request = json.loads(body)
            texts, images = openai_parts(request.get("messages", []))
            return self._model_call(request.get("model", "?"), texts, images, gemini=False)
        if match := GEMINI_PATH.match(self.path):
            texts, images = gemini_parts(json.loads(body))
            return self._model_call(match.group(2), texts, images, gemini=True)
        if self.path == "/v1/files":
            return self._upload(body)
        if self.path == "/v1/batches":
            request = json.loads(body)
            batch_id = fake.new_id("batch")
            fake.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": request["endpoint"],
                "input_file_id": request["input_file_id"],
                "completion_window": request["completion_window"],
                "status": "validating",
                "created_at": int(time.time()),
                "output_file_id": None,
                "error_file_id": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "polls": 0,
            }
            return self._json(200, {k: v for k, v in fake.batches[batch_id].items() if k != "polls"})
        self._json(404, {"error": {"message": f"unknown path {self.path}"}})

    def _model_call(
        self, model: str, texts: list[str], images: list[tuple[str, str | None]], *, gemini: bool
    ) -> None:
        fake = self.fake
        if problem := fake.check(texts, images):
            return self._json(400, _error_body(Reply("bad_request", text=problem, status=400), gemini))
        reply = fake.next_reply()
        if fake.latency:
            time.sleep(fake.latency)
        if reply.kind in ("rate_limited", "server_error"):
            headers = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else None
            key = self.key if fake.echo_key_in_errors else "sk-...redacted"
            return self._json(reply.status, _error_body(reply, gemini, key), headers=headers)
        if reply.kind == "empty":
            return self._send(200, b"")
        if reply.kind == "malformed":
            return self._send(200, b'{"choices": [{"message": ')
        if reply.kind == "stall":
            time.sleep(reply.seconds)
        prompt = "\n".join(texts)
        if reply.kind == "refusal":
            return self._json(200, (gemini_refusal if gemini else openai_refusal)(model, prompt))
        text = fake.comment_for(reply, labels_in_prompt(texts), texts)
        make = gemini_response if gemini else openai_completion
        self._json(200, make(text, model, prompt))

    def _upload(self, body: bytes) -> None:
        # multipart/form-data: let the stdlib MIME parser split the parts.
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + body)
        content, filename, purpose = b"", "upload.jsonl", ""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                content = part.get_payload(decode=True) or b""
                filename = part.get_filename() or filename
            elif name == "purpose":
                purpose = (part.get_payload(decode=True) or b"").decode()
        file_id = self.fake.new_id("file")
        self.fake.files[file_id] = content
        self._json(
            200,
            {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
            },
        )

    def _finish_batch(self, batch: dict) -> None:
        """Answer every request of the batch (the plan applies here too) into an output file."""
        fake = self.fake
        lines = fake.files[batch["input_file_id"]].decode().splitlines()
        results = []
        for n, line in enumerate(filter(None, lines)):
            request = json.loads(line)
            texts, images = openai_parts(request["body"]["messages"])
            problem = fake.check(texts, images)
            reply = Reply.server_error(400) if problem else fake.next_reply()
            result: dict[str, Any] = {
                "id": f"batch_req_{n}",
                "custom_id": request["custom_id"],
                "error": None,
            }
            if reply.kind in ("rate_limited", "server_error", "empty", "malformed"):
                result["response"] = {"status_code": reply.status, "request_id": f"req_{n}", "body": {}}
            elif reply.kind == "refusal":
                body = openai_refusal(request["body"]["model"], "\n".join(texts))
                result["response"] = {"status_code": 200, "request_id": f"req_{n}", "body": body}
            else:
                text = fake.comment_for(reply, labels_in_prompt(texts), texts)
                body = openai_completion(text, request["body"]["model"], "\n".join(texts))
                result["response"] = {"status_code": 200, "request_id": f"req_{n}", "body": body}
            results.append(result)
        output_id = fake.new_id("file")
        fake.files[output_id] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results).encode()
        failed = sum(r["response"]["status_code"] != 200 for r in results)
        batch.update(
            status="completed",
            output_file_id=output_id,
            request_counts={"total": len(results), "completed": len(results) - failed, "failed": failed},
        )
