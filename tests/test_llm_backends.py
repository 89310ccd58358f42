"""The OpenAI and Gemini backends, through their real SDKs, against a local server that speaks
both REST formats (tests/fake_llm_server.py): success, 429 with Retry-After, 5xx, time-outs,
empty and malformed bodies, regeneration of a question, rejects, keys, the Batch API path, and
a run killed with SIGKILL then resumed."""

from __future__ import annotations

import os
import sys
import time

import pytest
from fake_llm_server import FakeLLMServer, Reply
from killed_runs import kill_then_rerun

from utils.datagen import backends as llm_backends
from utils.datagen import batch as llm_batch
from utils.datagen.runner import DEFAULT_SEED, as_inputs, generate_dataset, rejected_path
from utils.paths import ROOT
from utils.text.dataset import has_question, read_jsonl, validate_comment
from utils.text.labelsets import sample_label_sets

LABELS = [
    "기쁨, 나무, 재킷",
    "슬픔, 안경",
    "분노, 차, 바퀴, 창문",
    "공포, 책",
    "기쁨, 모자",
    "슬픔, 의자, 테이블",
]
BACKEND_NAMES = ["openai", "gemini"]


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No key or base URL in the environment; an empty .env that is not the repository's."""
    for name in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_BASE_URL", "GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "absent.env"


def make(name, server, monkeypatch, env_file, timeout=5.0):
    monkeypatch.setenv(llm_backends.KEY_VARIABLES[name][0], f"test-{name}-key")
    url = server.openai_url if name == "openai" else server.url
    return llm_backends.make_llm_backend(name, base_url=url, timeout=timeout, env_file=env_file)


def generate(labels, out, backend, **kwargs):
    options = {"concurrency": 1, "base_delay": 0.01, "progress": False} | kwargs
    return generate_dataset(labels, out, backend, **options)


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_success_writes_one_valid_row_per_input_with_tokens_and_cost(
    name, server, monkeypatch, no_env, tmp_path
):
    backend = make(name, server, monkeypatch, no_env)
    out = tmp_path / "rows.jsonl"
    summary = generate(LABELS, out, backend, concurrency=3)
    rows = read_jsonl(out)
    assert summary.written == len(LABELS) and summary.rejected == 0 and summary.retries == 0
    assert sorted(r["id"] for r in rows) == [str(i) for i in range(len(LABELS))]
    for row in rows:
        assert validate_comment(row["comment"], row["labels"]) == []
        assert row["backend"] == backend.name
    assert backend.name == {"openai": "openai/gpt-4o-mini", "gemini": "gemini/gemini-2.0-flash"}[name]
    assert summary.prompt_tokens > 0 and summary.completion_tokens > 0 and summary.cost_usd > 0
    assert server.model_calls == len(LABELS)
    assert set(server.keys_seen) == {f"test-{name}-key"}


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_429_waits_for_retry_after_then_succeeds(name, server, monkeypatch, no_env, tmp_path):
    backend = make(name, server, monkeypatch, no_env)
    server.push(Reply.rate_limited(retry_after=1.0))
    start = time.perf_counter()
    summary = generate(LABELS[:1], tmp_path / "rows.jsonl", backend)
    assert time.perf_counter() - start >= 1.0
    assert summary.written == 1 and summary.retries == 1 and summary.rate_limited == 1
    assert server.rate_limited_sent == 1 and server.model_calls == 2


@pytest.mark.parametrize("name", BACKEND_NAMES)
@pytest.mark.parametrize(
    "failure",
    [Reply.server_error(500), Reply.server_error(503), Reply.stall(2.0), Reply.empty(), Reply.malformed()],
    ids=["500", "503", "time-out", "empty-body", "malformed-json"],
)
def test_transient_failure_is_retried_then_succeeds(name, failure, server, monkeypatch, no_env, tmp_path):
    backend = make(name, server, monkeypatch, no_env, timeout=0.5)
    server.push(failure)
    out = tmp_path / "rows.jsonl"
    summary = generate(LABELS[:2], out, backend)
    assert summary.written == 2 and summary.rejected == 0 and summary.retries == 1
    assert server.model_calls == 3
    assert all(validate_comment(r["comment"], r["labels"]) == [] for r in read_jsonl(out))


def test_client_error_is_not_retried(server, monkeypatch, no_env, tmp_path):
    import openai

    backend = make("openai", server, monkeypatch, no_env)
    server.push(Reply.server_error(401))
    with pytest.raises(openai.AuthenticationError):
        generate(LABELS[:1], tmp_path / "rows.jsonl", backend)
    assert server.model_calls == 1


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_question_is_regenerated(name, server, monkeypatch, no_env, tmp_path):
    backend = make(name, server, monkeypatch, no_env)
    server.push(Reply.question())
    out = tmp_path / "rows.jsonl"
    summary = generate(LABELS[:1], out, backend)
    [row] = read_jsonl(out)
    assert summary.written == 1 and row["attempts"] == 2 and not has_question(row["comment"])
    assert server.model_calls == 2


def test_always_invalid_output_is_rejected_with_reasons(monkeypatch, no_env, tmp_path):
    with FakeLLMServer(default=Reply.question()) as server:
        backend = make("openai", server, monkeypatch, no_env)
        out = tmp_path / "rows.jsonl"
        server.push(Reply.ok("Nice photo!"))  # no Hangul, no emoji, no label
        summary = generate(LABELS[:1], out, backend, max_regenerations=2)
    assert summary.written == 0 and summary.rejected == 1
    assert read_jsonl(out) == []
    [reject] = read_jsonl(rejected_path(out))
    assert reject["id"] == "0" and reject["labels"] == LABELS[0]
    assert [t["problems"] for t in reject["tried"]][1:] == [["question"], ["question"]]
    first = reject["tried"][0]["problems"]
    assert "no Hangul" in first and "no emoji" in first and "label not mentioned: 나무, 재킷" in first
    # A re-run counts the rejected input as finished.
    assert generate(LABELS[:1], out, backend).skipped == 1


@pytest.mark.parametrize("name,variable", [("openai", "OPENAI_API_KEY"), ("gemini", "GEMINI_API_KEY")])
def test_missing_key_names_the_variable(name, variable, no_env):
    with pytest.raises(llm_backends.MissingKeyError, match=variable):
        llm_backends.make_llm_backend(name, env_file=no_env)


def test_cli_without_key_exits_with_the_variable_name(no_env, monkeypatch, tmp_path, capsys):
    from utils import __main__ as cli

    monkeypatch.setattr(llm_backends, "ENV_FILE", no_env)
    code = cli.main(["generate", "--backend", "openai", "--sample", "2", "--out", str(tmp_path / "x.jsonl")])
    assert code == 2 and "OPENAI_API_KEY" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_dotenv_supplies_key_and_base_url(server, no_env, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        f'# local secrets\nexport OPENAI_API_KEY="key-from-dotenv"\nOPENAI_BASE_URL={server.openai_url}\n',
        encoding="utf-8",
    )
    backend = llm_backends.make_llm_backend("openai", env_file=env_file)
    summary = generate(LABELS[:1], tmp_path / "rows.jsonl", backend)
    assert summary.written == 1 and server.keys_seen == ["key-from-dotenv"]


def test_gemini_accepts_google_api_key(server, no_env, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    backend = llm_backends.make_llm_backend("gemini", base_url=server.url, env_file=no_env)
    assert isinstance(backend, llm_backends.GeminiBackend)


def test_retry_after_forms():
    assert llm_backends.retry_after_seconds({"retry-after": "3"}) == 3.0
    assert llm_backends.retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < llm_backends.retry_after_seconds({"retry-after": http_date}) <= 31
    assert llm_backends.retry_after_seconds({"retry-after": "soon"}) is None
    assert llm_backends.retry_after_seconds({}) is None
    gemini_body = {
        "error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}
    }
    assert llm_backends._gemini_retry_delay(gemini_body) == 37.0


def test_rate_limit_keeps_under_the_servers_rpm(monkeypatch, no_env, tmp_path):
    with FakeLLMServer(rpm=600) as server:  # one request per 0.1 s
        backend = make("openai", server, monkeypatch, no_env)
        limited = generate(LABELS * 2, tmp_path / "limited.jsonl", backend, concurrency=8, rpm=600)
        assert limited.written == 12 and limited.rate_limited == 0 and server.rate_limited_sent == 0
        # Without the client-side limit the same server answers 429s, which the runner absorbs.
        unlimited = generate(LABELS * 2, tmp_path / "unlimited.jsonl", backend, concurrency=8, base_delay=0.3)
        assert unlimited.written == 12 and server.rate_limited_sent > 0
        assert unlimited.rate_limited == server.rate_limited_sent


def test_batch_api_end_to_end_with_resume(monkeypatch, no_env, tmp_path):
    with FakeLLMServer() as server:
        backend = make("openai", server, monkeypatch, no_env)
        out = tmp_path / "rows.jsonl"
        generate(LABELS[:2], out, backend)  # inputs 0 and 1 are finished before the batch
        # The batch's first answer is invalid (→ rejected), its second request fails (→ left for later).
        server.push(Reply.question(), Reply.server_error())

        # Stopped while polling (Ctrl-C): the batch id is kept, the re-run resumes it.
        def interrupt(seconds):
            raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(llm_batch.time, "sleep", interrupt)
            stopped = llm_backends.run_openai_batch(LABELS, out, backend, progress=False)
        requests_path, state_path = llm_batch._batch_paths(out)
        assert stopped.interrupted and state_path.exists()
        first_requests = read_jsonl(requests_path)

        summary = llm_backends.run_openai_batch(LABELS, out, backend, poll_interval=0.01, progress=False)
        assert server.paths.count("/v1/files") == 1 and server.paths.count("/v1/batches") == 1
        again = llm_backends.run_openai_batch(LABELS, out, backend, poll_interval=0.01, progress=False)
        assert server.paths.count("/v1/files") == 2  # only the failed request was submitted again
        last = llm_backends.run_openai_batch(LABELS, out, backend, poll_interval=0.01, progress=False)

    assert [r["custom_id"] for r in first_requests] == ["2", "3", "4", "5"]
    assert {r["url"] for r in first_requests} == {"/v1/chat/completions"}
    assert first_requests[0]["body"]["model"] == "gpt-4o-mini"
    assert first_requests[0]["body"]["messages"][-1]["content"].endswith(
        f"sns 사진 요소 : {LABELS[2]}\nsns 댓글 : "
    )
    assert summary.skipped == 2 and summary.written == 2 and summary.rejected == 1
    assert len(summary.errors) == 1 and "input 3" in summary.errors[0]
    assert summary.cost_usd > 0 and not state_path.exists()
    assert [r["custom_id"] for r in read_jsonl(requests_path)] == ["3"]
    assert again.skipped == 5 and again.written == 1
    assert last.skipped == len(LABELS) and last.written == 0 and server.paths.count("/v1/files") == 2
    rows = read_jsonl(out)
    assert sorted(r["id"] for r in rows) == ["0", "1", "3", "4", "5"]
    assert all(validate_comment(r["comment"], r["labels"]) == [] for r in rows)
    [reject] = read_jsonl(rejected_path(out))
    assert reject["id"] == "2" and reject["tried"][0]["problems"] == ["question"]


def test_sigkill_halfway_then_rerun_gives_exactly_one_row_per_input(tmp_path):
    out = tmp_path / "rows.jsonl"
    command = [sys.executable, "-m", "utils", "generate", "--backend", "openai", "--sample", "40"]
    command += ["--sets", "reference"]  # the sampler the expected inputs below come from
    command += ["--out", str(out), "--concurrency", "4"]
    with FakeLLMServer(latency=0.25) as server:
        env = {**os.environ, "OPENAI_API_KEY": "test", "OPENAI_BASE_URL": server.openai_url}
        before, rerun = kill_then_rerun(command, env, out, after=12)
    assert 12 <= len(before) < 40
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(before)} already done" in rerun.stderr
    rows = read_jsonl(out)
    expected = dict(as_inputs(sample_label_sets(40, seed=DEFAULT_SEED)))
    assert sorted((r["id"] for r in rows), key=int) == [str(i) for i in range(40)]  # none lost or twice
    assert {r["id"]: r["labels"] for r in rows} == expected
    assert all(validate_comment(r["comment"], r["labels"]) == [] for r in rows)


def test_label_translation_retries_rejects_junk_and_is_cached(server, monkeypatch, no_env, tmp_path):
    from utils.datagen.translation import shipped_map_checks, translate_names, translation_diff

    backend = make("openai", server, monkeypatch, no_env)
    names = ["Tree", "Car", "Glasses", "Zucchini"]
    cache = tmp_path / "oiv7_llm.jsonl"
    server.push(Reply.server_error(), Reply.ok("Tree, plant"))  # a 500, then an unusable answer
    translated = translate_names(names, backend, cache, concurrency=1, progress=False)
    assert translated == {"Tree": "나무", "Car": "차", "Glasses": "안경", "Zucchini": "애호박"}
    assert server.model_calls == len(names) + 2
    assert [r["en"] for r in read_jsonl(cache)] == names
    assert translate_names(names, backend, cache, progress=False) == translated  # from the cache
    assert server.model_calls == len(names) + 2
    assert translation_diff(translated) == []
    assert translation_diff({"Tree": "나무들"}) == [
        {"id": 553, "en": "Tree", "shipped": "나무", "llm": "나무들"}
    ]
    checks = shipped_map_checks()
    assert checks["classes"] == 601 and checks["ids_in_order"] and checks["duplicate_korean_names"] == []


def test_default_backend_follows_the_keys(no_env, monkeypatch, tmp_path):
    assert llm_backends.default_backend_name(no_env) == "offline"
    env_file = tmp_path / ".env"
    env_file.write_text("GOOGLE_API_KEY=g\n", encoding="utf-8")
    assert llm_backends.default_backend_name(env_file) == "gemini"
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    assert llm_backends.default_backend_name(env_file) == "openai"


def _notebook_text(nb) -> str:
    return "\n".join(
        "".join(o.get("text") or o.get("data", {}).get("text/plain") or "")
        for cell in nb.cells
        for o in cell.get("outputs", [])
    )


@pytest.mark.slow
def test_data_generation_notebooks_use_an_llm_when_a_key_is_set(monkeypatch, tmp_path):
    """The code_data_gen notebooks with a key (the smoke test runs them without one)."""
    from utils.notebooks import execute_notebook

    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_url)
        server.push(Reply.ok("보트"))  # one name that differs from the shipped map
        params = {"PROFILE": "smoke", "WORK_DIR": str(tmp_path / "work")}
        translate = execute_notebook(
            ROOT / "code_data_gen/1_chat_gpt_translate.ipynb",
            params,
            output_path=tmp_path / "1.ipynb",
            timeout=120,
        )
        translated_calls = server.model_calls
        generate = execute_notebook(
            ROOT / "code_data_gen/3_textdata_generating.ipynb",
            params,
            output_path=tmp_path / "3.ipynb",
            timeout=600,  # a cell checks all 22,000 shipped rows with validate_comment (kiwipiepy)
        )
    assert "12/12 translated, 1 differ from the shipped map" in _notebook_text(translate)
    assert translated_calls == 12
    text = _notebook_text(generate)
    assert "backend: openai/gpt-4o-mini, 20 rows" in text and "20 valid rows, 0 invalid" in text
    assert "re-run: 20 already done, 0 written" in text
    assert server.model_calls == 12 + 20
    assert len(read_jsonl(tmp_path / "work/datagen/comments_openai.jsonl")) == 20
