"""A local stand-in for the OpenAI and Gemini REST APIs, so tests and benchmarks drive the real
SDKs over real HTTP (``base_url`` / ``http_options``) without a key or a network.

Endpoints: OpenAI ``POST /v1/chat/completions``, the Batch API (``POST /v1/files``,
``POST /v1/batches``, ``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content``) and Gemini
``POST /{version}/models/{model}:generateContent``. By default every model call answers with a
valid Korean comment from the offline composer for the labels in the prompt; a plan of replies
(429 with Retry-After, 500, a stall, an empty or malformed body, a question ...) is consumed
one per model call first. Optional fixed latency and a requests-per-minute limit that answers
429 when exceeded; counters say what the server saw.

    with FakeLLMServer(latency=0.2) as server:
        server.push(Reply.rate_limited(1), Reply.server_error())
        client = openai.OpenAI(api_key="test", base_url=server.openai_url)
"""

from __future__ import annotations

import email.parser
import email.policy
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

from utils import labels as vocab
from utils.text.composer import OfflineComposer

LABELS_LINE = re.compile(r"sns 사진 요소 : ([^\n]*)")
ENGLISH_NAME_LINE = re.compile(r"영어 이름: ([^\n]*)")  # utils.datagen.translation's prompt
GEMINI_PATH = re.compile(r"^/(v1[a-z0-9]*)/models/([^/:]+):generateContent$")
QUESTION = " 여기는 어디인가요? 📷"


@dataclass(frozen=True)
class Reply:
    """What the server does for one model call."""

    kind: str = "ok"  # ok | question | rate_limited | server_error | stall | empty | malformed
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


def labels_in_prompt(texts: list[str]) -> str:
    """The label string ``datagen.build_messages`` put last in the prompt."""
    found = [m.group(1).strip() for text in texts for m in LABELS_LINE.finditer(text)]
    return found[-1] if found else ""


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
    ) -> None:
        self.latency = latency
        self.rpm = rpm
        self.burst = burst  # token-bucket depth: tolerates a well-spaced caller's jitter, not bursts
        self.default = default or Reply.ok()  # the reply when the plan is empty
        self.batch_polls = batch_polls  # GETs a batch needs before it reports "completed"
        self.composer = OfflineComposer(seed=7)
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
        """The answer text: the planned text, a class name for a translation prompt, or a comment."""
        if reply.text is not None:
            return reply.text
        names = [m.group(1).strip() for text in texts for m in ENGLISH_NAME_LINE.finditer(text)]
        if names:
            return vocab.ko_name(names[-1])
        with self._lock:
            key = next(self._ids)
        comment = self.composer.compose(labels, key=key) if labels else "좋은 사진이네요! 😊"
        return comment + QUESTION if reply.kind == "question" else comment

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


def _error_body(reply: Reply, gemini: bool) -> dict[str, Any]:
    if reply.kind == "rate_limited":
        message, status = "Rate limit reached for requests", "RESOURCE_EXHAUSTED"
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
            texts = [m.get("content") or "" for m in request.get("messages", [])]
            return self._model_call(request.get("model", "?"), texts, gemini=False)
        if match := GEMINI_PATH.match(self.path):
            request = json.loads(body)
            texts = [p.get("text", "") for c in request.get("contents", []) for p in c.get("parts", [])]
            return self._model_call(match.group(2), texts, gemini=True)
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

    def _model_call(self, model: str, texts: list[str], *, gemini: bool) -> None:
        fake = self.fake
        reply = fake.next_reply()
        if fake.latency:
            time.sleep(fake.latency)
        if reply.kind in ("rate_limited", "server_error"):
            headers = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else None
            return self._json(reply.status, _error_body(reply, gemini), headers=headers)
        if reply.kind == "empty":
            return self._send(200, b"")
        if reply.kind == "malformed":
            return self._send(200, b'{"choices": [{"message": ')
        if reply.kind == "stall":
            time.sleep(reply.seconds)
        text = fake.comment_for(reply, labels_in_prompt(texts), texts)
        make = gemini_response if gemini else openai_completion
        self._json(200, make(text, model, "\n".join(texts)))

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
            texts = [m.get("content") or "" for m in request["body"]["messages"]]
            reply = fake.next_reply()
            result: dict[str, Any] = {
                "id": f"batch_req_{n}",
                "custom_id": request["custom_id"],
                "error": None,
            }
            if reply.kind in ("rate_limited", "server_error", "empty", "malformed"):
                result["response"] = {"status_code": reply.status, "request_id": f"req_{n}", "body": {}}
            else:
                text = fake.comment_for(reply, labels_in_prompt(texts))
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
