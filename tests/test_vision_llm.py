"""Photos straight to a vision LLM, on the wire: the comment writer (``comment --writer``), data
grounded in photos (``generate --from-photos``, live and Batch API), the images the server
receives, the faults the runner survives, resume, the costs printed before a run, and the key
that never shows; all against the local server that speaks both APIs (tests/fake_llm_server.py)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

import pytest
from fake_llm_server import FakeLLMServer, Reply
from killed_runs import kill_then_rerun
from PIL import Image

from utils import __main__ as cli
from utils.datagen import backends as llm_backends
from utils.datagen.base import PhotoSource, rejected_path
from utils.datagen.images import (
    encode_image,
    encode_photo,
    file_sha256,
    gemini_image_tokens,
    image_tokens,
    openai_image_tokens,
    sent_size,
)
from utils.pipeline import photo_data
from utils.pipeline.app import CommentPage, build_app
from utils.pipeline.comment_pipeline import CommentPipeline, demo_photos, sample_photos
from utils.text.dataset import read_jsonl, validate_comment

SIDE = {"openai": 512, "gemini": 384}  # the long side each backend gets by default
MODEL = {"openai": "openai/gpt-4o-mini", "gemini": "gemini/gemini-2.0-flash"}
NAMES = ["openai", "gemini"]
# The local writers: the shipped T5, or the composer where the T5's comments fail the checks.
LOCAL = ("t5:", "offline composer")


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No key or base URL in the environment, and a .env that does not exist."""
    for name in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_BASE_URL", "GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    absent = tmp_path / "absent.env"
    monkeypatch.setattr(llm_backends, "ENV_FILE", absent)
    return absent


def point_at(monkeypatch, name: str, server: FakeLLMServer, key: str | None = None) -> None:
    monkeypatch.setenv(llm_backends.KEY_VARIABLES[name][0], key or f"test-{name}-key")
    url = server.openai_url if name == "openai" else server.url
    monkeypatch.setenv(llm_backends.BASE_URL_VARIABLES[name], url)


def rotated_bus(path: Path) -> Path:
    """bus.jpg (810 × 1080 upright) stored turned a quarter, with EXIF orientation 6 to undo it."""
    with Image.open(demo_photos()[0]) as upright:
        stored = upright.transpose(Image.Transpose.ROTATE_90)  # 1080 × 810 as stored
        exif = Image.Exif()
        exif[0x0112] = 6
        stored.save(path, "JPEG", quality=90, exif=exif)
    return path


@pytest.fixture
def photos(tmp_path) -> Path:
    """A rotated phone-style JPEG of people, a wide photo of people, and a flower (nothing recognised)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rotated_bus(folder / "bus_rotated.jpg")
    _, zidane = demo_photos()
    (folder / "zidane.jpg").write_bytes(zidane.read_bytes())
    (folder / "flower.jpg").write_bytes(sample_photos()[4].read_bytes())
    return folder


@pytest.fixture(scope="module")
def pipeline() -> CommentPipeline:
    return CommentPipeline(offline=True)


def expected_size(name: str, photo: str) -> tuple[int, int]:
    """The size each test photo must arrive at: 810 × 1080 upright, 1280 × 720 and 640 × 427, scaled to the long side."""
    return {
        ("openai", "bus_rotated.jpg"): (384, 512),
        ("openai", "zidane.jpg"): (512, 288),
        ("openai", "flower.jpg"): (512, 342),
        ("gemini", "bus_rotated.jpg"): (288, 384),
        ("gemini", "zidane.jpg"): (384, 216),
        ("gemini", "flower.jpg"): (384, 256),
    }[(name, photo)]


def empty_notes(detected: dict[str, str]) -> list[str]:
    """The note on the test photos in which the detectors recognise nothing (the flower, today)."""
    empty = [photo for photo, labels in sorted(detected.items()) if not labels]
    return [f"{len(empty)} photo(s) with nothing recognised, no row: {', '.join(empty)}"] if empty else []


def comment_json(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = cli.main(["comment", *map(str, argv), "--json", "--offline"])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err


# -- the image as sent, and what it costs ---------------------------------------------------------


def test_a_photo_is_sent_upright_downscaled_and_as_a_jpeg(tmp_path):
    photo = rotated_bus(tmp_path / "bus.jpg")
    image = encode_photo(photo, 512)
    with Image.open(io.BytesIO(image.jpeg)) as sent:
        assert sent.format == "JPEG" and sent.size == (384, 512)  # portrait: the EXIF turn was applied
    assert image.size == "384x512" and image.data_url.startswith("data:image/jpeg;base64,/9j/")
    assert sent_size(photo, 512) == (384, 512) and sent_size(photo, 384) == (288, 384)
    assert encode_image(Image.new("RGB", (200, 100)), 512).size == "200x100"  # never enlarged


def test_image_tokens_follow_the_published_formulas():
    # OpenAI's examples (gpt-4o): 1024² high = 85 + 4 × 170; 2048 × 4096 high = 85 + 6 × 170; low = 85.
    assert openai_image_tokens("gpt-4o", 1024, 1024, "high") == 765
    assert openai_image_tokens("gpt-4o", 2048, 4096, "high") == 1105
    assert openai_image_tokens("gpt-4o", 4096, 8192, "low") == 85
    # gpt-4o-mini bills 2,833 base and 5,667 per tile; a photo at most 512 px goes as low detail.
    assert openai_image_tokens("gpt-4o-mini-2024-07-18", 512, 384) == 2833
    assert openai_image_tokens("gpt-4o-mini", 1024, 768) == 2833 + 4 * 5667
    # Patch models: 32 px patches (at most 1,536) times the model's multiplier.
    assert openai_image_tokens("gpt-4.1-mini", 1024, 1024) == 1659  # 1,024 × 1.62
    assert openai_image_tokens("gpt-4.1-mini", 1800, 2400) == 2353  # scaled to 1,452 patches × 1.62
    assert openai_image_tokens("gpt-4.1-nano", 128, 64) == 20  # 8 × 2.46
    assert openai_image_tokens("some-new-model", 512, 512) is None
    # Gemini: 258 for both sides ≤ 384, else 258 per 768 px tile.
    assert gemini_image_tokens(384, 384) == gemini_image_tokens(384, 216) == 258
    assert gemini_image_tokens(512, 384) == 258 and gemini_image_tokens(1000, 800) == 4 * 258
    assert image_tokens("offline", "", 512, 512) == 0


def test_dry_run_prints_the_requests_and_image_tokens_and_sends_nothing(
    photos, tmp_path, monkeypatch, capsys, no_env
):
    out = tmp_path / "rows.jsonl"
    with FakeLLMServer() as server:
        point_at(monkeypatch, "gemini", server)  # Gemini with a key and a server; OpenAI with no key at all
        for name, tokens in (("openai", "2,833"), ("gemini", "258")):
            code = cli.main(
                ["generate", "--from-photos", str(photos), "--backend", name, "--out", str(out), "--dry-run"]
            )
            err = capsys.readouterr().err
            assert code == 0
            assert f"3 photos, 0 already done → at most 3 requests to {MODEL[name]}" in err
            assert f"→ {tokens} image tokens per request" in err
            assert ("detail low" in err) == (name == "openai")
            assert "for the run at list price" in err
        assert server.model_calls == 0 and server.paths == []  # nothing sent, nothing written
    assert not out.exists() and not photo_data.labels_cache_path(out).exists()
    code = cli.main(["generate", "--sample", "3", "--out", str(out), "--dry-run"])
    assert code == 2 and "--dry-run go with --from-photos DIR" in capsys.readouterr().err


# -- the comment writer ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_writer_sends_the_photo_labels_and_style_and_its_comment_passes_the_checks(
    name, photos, monkeypatch, capsys, no_env
):
    with FakeLLMServer(expect_image_side=SIDE[name]) as server:
        point_at(monkeypatch, name, server)
        server.push(Reply.refusal(), Reply.question())  # declined, then a question: both asked again
        code, [row], err = comment_json(
            capsys, photos / "bus_rotated.jpg", "--writer", name, "--style", "반말,유쾌한"
        )
    assert code == 0 and row["labels"] and "note:" not in err
    assert row["models"]["comment"].startswith(f"{MODEL[name]} (vision")
    assert validate_comment(row["comment"], row["labels"], style="반말,유쾌한") == []
    assert [(p.labels, p.style.key, p.images) for p in server.prompts_seen] == [
        (row["labels"], "반말,유쾌한", 1)
    ] * 3
    width, height = expected_size(name, "bus_rotated.jpg")
    assert {(i.format, i.width, i.height, i.problem) for i in server.images_seen} == {
        ("JPEG", width, height, None)
    }
    assert {i.detail for i in server.images_seen} == ({"low"} if name == "openai" else {None})


def test_a_writer_that_keeps_failing_hands_over_to_the_local_model(photos, monkeypatch, capsys, no_env):
    with FakeLLMServer(default=Reply.refusal()) as server:
        point_at(monkeypatch, "openai", server)
        code, [row], _ = comment_json(capsys, photos / "zidane.jpg", "--writer", "openai")
    writer = row["models"]["comment"]
    assert code == 0 and server.model_calls == 3  # the first answer and two regenerations
    assert writer.startswith(LOCAL) and writer.endswith(
        "(openai/gpt-4o-mini did not: refused: I'm sorry, but I can't help with that.)"
    )
    assert validate_comment(row["comment"], row["labels"]) == []


def test_without_a_key_one_clear_line_and_the_local_model_writes(photos, capsys, no_env):
    code = cli.main(["comment", str(photos / "zidane.jpg"), "--writer", "openai", "--offline"])
    captured = capsys.readouterr()
    about_key = [line for line in captured.err.splitlines() if "OPENAI_API_KEY" in line]
    assert code == 0 and about_key == [
        "note: --writer openai: OPENAI_API_KEY is not set (export it, or put it in .env in the repository "
        "root); the local text model writes the comments."
    ]
    assert "댓글 comment: " in captured.out and any(f"comment={name}" in captured.out for name in LOCAL)


def test_without_network_one_line_and_the_local_model_writes(photos, monkeypatch, capsys, no_env):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("GEMINI_API_KEY", "test")
    monkeypatch.setenv("GEMINI_BASE_URL", f"http://127.0.0.1:{port}")
    code, rows, err = comment_json(
        capsys, photos / "zidane.jpg", photos / "bus_rotated.jpg", "--writer", "gemini"
    )
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert code == 0 and len(notes) == 1
    assert "gemini/gemini-2.0-flash did not answer" in notes[0] and "connection" in notes[0]
    assert all(r["models"]["comment"].startswith(LOCAL) for r in rows if r["labels"])


# -- data grounded in photos ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detected(pipeline, tmp_path_factory) -> dict[str, str]:
    """What the `comment` pipeline's detectors find in the test photos (the data must agree)."""
    folder = tmp_path_factory.mktemp("detected")
    rotated_bus(folder / "bus_rotated.jpg")
    (folder / "zidane.jpg").write_bytes(demo_photos()[1].read_bytes())
    (folder / "flower.jpg").write_bytes(sample_photos()[4].read_bytes())
    return {Path(r.source).name: r.labels for r in pipeline.run(folder, progress=False)}


@pytest.mark.parametrize("name", NAMES)
def test_generate_from_photos_end_to_end_survives_faults_and_resumes(
    name, photos, detected, tmp_path, monkeypatch, capsys, no_env
):
    out = tmp_path / "rows.jsonl"
    argv = ["generate", "--from-photos", str(photos), "--backend", name, "--out", str(out), "--offline"]
    with FakeLLMServer(expect_image_side=SIDE[name]) as server:
        point_at(monkeypatch, name, server)
        server.push(
            Reply.rate_limited(retry_after=1.0), Reply.server_error(500), Reply.malformed(), Reply.refusal()
        )
        start = time.perf_counter()
        assert cli.main(argv) == 0
        first = capsys.readouterr().err
        assert time.perf_counter() - start >= 1.0  # the Retry-After was honoured
        calls, cached = server.model_calls, photo_data.labels_cache_path(out).read_text(encoding="utf-8")
        assert cli.main(argv) == 0  # resume: nothing left to ask, nothing to detect again
        again = capsys.readouterr().err
        assert (
            server.model_calls == calls
            and photo_data.labels_cache_path(out).read_text(encoding="utf-8") == cached
        )

    rows = read_jsonl(out)
    with_labels = {photo: labels for photo, labels in detected.items() if labels}
    n, empty = len(with_labels), len(detected) - len(with_labels)
    assert n >= 2  # the people at least
    assert {r["photo"]: r["labels"] for r in rows} == with_labels  # one row per photo, the detectors' labels
    assert sorted(r["id"] for r in rows) == sorted(with_labels)
    for row in rows:
        assert row["backend"] == MODEL[name] and row["style"] == "존댓말,다정한"
        assert row["photo_sha256"] == file_sha256(photos / row["photo"])
        assert row["image"] == "{}x{}".format(*expected_size(name, row["photo"]))
        assert validate_comment(row["comment"], row["labels"]) == []
    assert sum(r["attempts"] for r in rows) == len(rows) + 1  # the refused one was asked again
    assert not rejected_path(out).exists()
    assert all(f"note: {note}" in first for note in empty_notes(detected))
    assert f"{n} written, 0 already done, 0 rejected (see {rejected_path(out).name}), 3 retries" in first
    assert (
        f"{n} already done{f', {empty} with nothing recognised' if empty else ''} → at most 0 requests"
        in again
    )
    assert f"0 written, {n} already done" in again
    assert len(server.images_seen) == server.model_calls == n + 4  # the photos, 3 faults, 1 regeneration
    assert all(i.format == "JPEG" and max(i.width, i.height) == SIDE[name] for i in server.images_seen)
    assert {p.labels for p in server.prompts_seen} == set(with_labels.values())


def test_a_stalled_answer_times_out_and_is_asked_again(photos, detected, tmp_path, monkeypatch, no_env):
    with FakeLLMServer() as server:
        point_at(monkeypatch, "openai", server)
        backend = llm_backends.make_llm_backend("openai", timeout=0.5)
        server.push(Reply.stall(2.0))
        summary, notes = photo_data.generate_from_photos(
            photos, tmp_path / "rows.jsonl", backend, base_delay=0.01, progress=False
        )
    assert (
        summary.written == sum(map(bool, detected.values()))
        and summary.retries == 1
        and summary.rejected == 0
    )
    assert notes == empty_notes(detected)


def test_offline_backend_rows_and_a_changed_photo_is_refused(photos, detected, tmp_path):
    out = tmp_path / "rows.jsonl"
    summary, _ = photo_data.generate_from_photos(photos, out, progress=False)  # no key: the composer
    rows = read_jsonl(out)
    assert summary.written == sum(map(bool, detected.values())) and {r["backend"] for r in rows} == {
        "offline"
    }
    assert all(r["image"] == "{}x{}".format(*expected_size("openai", r["photo"])) for r in rows)
    with Image.open(photos / "bus_rotated.jpg") as im:  # the same name, other bytes
        im.load()
        im.save(photos / "bus_rotated.jpg", "JPEG", quality=60, exif=im.getexif())
    with pytest.raises(ValueError, match="another version of bus_rotated.jpg"):
        photo_data.generate_from_photos(photos, out, progress=False)


def test_a_style_mix_keeps_each_photos_style_when_photos_are_added():
    sources = [PhotoSource(f"p{i:03d}.jpg", Path("."), "0") for i in range(200)]
    before = photo_data.styles_for_photos(sources, None, "all", seed=3)
    after = photo_data.styles_for_photos(
        [PhotoSource("a_new.jpg", Path("."), "0"), *sources], None, "all", seed=3
    )
    assert after[1:] == before and len(set(before)) == 8


def test_the_batch_api_carries_each_photo_and_merges_rows_with_their_photo(
    photos, tmp_path, monkeypatch, no_env
):
    out = tmp_path / "rows.jsonl"
    with FakeLLMServer(expect_image_side=512) as server:
        point_at(monkeypatch, "openai", server)
        backend = llm_backends.make_llm_backend("openai")
        kept, labels, _ = photo_data.photo_inputs(photo_data.photo_sources(photos), out, progress=False)
        server.push(Reply.refusal())
        summary = llm_backends.run_openai_batch(
            labels, out, backend, photos=kept, poll_interval=0.01, progress=False
        )
        requests = read_jsonl(out.with_name("rows.batch_requests.jsonl"))
    assert (
        summary.written == len(kept) - 1 and summary.rejected == 1 and server.paths.count("/v1/batches") == 1
    )
    parts = [r["body"]["messages"][-1]["content"] for r in requests]
    assert [r["custom_id"] for r in requests] == [s.name for s in kept]
    assert all(p[1]["image_url"]["url"].startswith("data:image/jpeg;base64,") for p in parts)
    assert [(i.width, i.height) for i in server.images_seen] == [
        expected_size("openai", s.name) for s in kept
    ]
    rows = read_jsonl(out)
    [reject] = read_jsonl(rejected_path(out))
    assert {r["photo"] for r in rows} | {reject["photo"]} == {s.name for s in kept}
    for row in rows:
        assert row["image"] == "{}x{}".format(*expected_size("openai", row["photo"]))
        assert row["photo_sha256"] == file_sha256(photos / row["photo"])
    assert reject["tried"][0]["problems"][0].startswith("refused: I'm sorry")


# -- resume after a kill, the key, the page -------------------------------------------------------------


def test_a_photo_run_killed_with_sigkill_resumes_without_loss_or_duplicates(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    with Image.open(sample_photos()[3]) as astronaut:  # a face: labelled 기쁨, 사람
        small = astronaut.convert("RGB").resize((256, 256))
        for i in range(16):
            small.save(folder / f"p{i:02d}.jpg", "JPEG", quality=80 + i)  # 16 files, 16 hashes
    out = tmp_path / "rows.jsonl"
    command = [sys.executable, "-m", "utils", "generate", "--from-photos", str(folder), "--backend", "openai"]
    command += ["--out", str(out), "--concurrency", "2", "--offline"]
    with FakeLLMServer(latency=0.3) as server:
        env = {**os.environ, "OPENAI_API_KEY": "test", "OPENAI_BASE_URL": server.openai_url}
        before, rerun = kill_then_rerun(command, env, out, after=4, wait=180)
    assert 4 <= len(before) < 16
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(before)} already done" in rerun.stderr
    rows = read_jsonl(out)
    assert sorted(r["photo"] for r in rows) == [f"p{i:02d}.jpg" for i in range(16)]  # none lost, none twice
    assert all(validate_comment(r["comment"], r["labels"]) == [] for r in rows)


def test_the_key_never_appears_in_output_rows_logs_or_errors(
    photos, tmp_path, monkeypatch, capsys, caplog, no_env
):
    key = "test-key-SECRET-never-print-4242"
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "rows.jsonl"
    with FakeLLMServer(echo_key_in_errors=True) as server:
        point_at(monkeypatch, "openai", server, key)
        server.push(Reply.rate_limited(0.1), Reply.server_error(500), Reply.refusal())
        generated = cli.main(
            ["generate", "--from-photos", str(photos), "--backend", "openai", "--out", str(out)]
        )
        server.default = Reply.server_error(401)  # from now on: "Incorrect API key provided: <key>"
        refused = cli.main(
            ["generate", "--backend", "openai", "--sample", "2", "--out", str(tmp_path / "x.jsonl")]
        )
        commented = cli.main(
            ["comment", str(photos / "zidane.jpg"), "--writer", "openai", "--json", "--offline"]
        )
        captured = capsys.readouterr()  # everything the three commands printed
    assert server.keys_seen and set(server.keys_seen) == {key}  # it was sent, and only in the header
    assert generated == 0 and refused == 1 and commented == 0
    files = "".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.jsonl"))
    assert files and key not in captured.out + captured.err + caplog.text + files
    errors = [line for line in captured.err.splitlines() if "Incorrect API key provided" in line]
    assert len(errors) == 2 and all("Incorrect API key provided: ***" in line for line in errors)
    assert errors[0].startswith("python -m utils generate: error: openai/gpt-4o-mini: ")
    assert errors[1].startswith("note: openai/gpt-4o-mini refused the request (")


def test_the_page_offers_the_writer_menu_only_with_a_key(pipeline, photos, monkeypatch, no_env):
    def writer_menu(demo):
        [menu] = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "writer"]
        return menu

    menu = writer_menu(build_app(pipeline))
    assert not menu.visible and [value for _, value in menu.choices] == ["t5"]
    with FakeLLMServer(expect_image_side=512) as server:
        point_at(monkeypatch, "openai", server)
        menu = writer_menu(build_app(pipeline))
        assert menu.visible and [value for _, value in menu.choices] == ["t5", "openai"]
        page = CommentPage(pipeline)
        upload = {"path": str(photos / "zidane.jpg"), "orig_name": "zidane.jpg"}
        try:
            by_llm = page.on_photo(upload, None, "openai")
            by_t5 = page.on_photo(upload, None, "t5")
        finally:
            pipeline.use_writer("t5")
    assert "openai/gpt-4o-mini (vision" in by_llm[3] and server.model_calls == 1
    assert "openai" not in by_t5[3] and any(f"(comment writer): {name}" in by_t5[3] for name in LOCAL)
    assert by_llm[1] == by_t5[1]  # the same labels; only the writer differs
