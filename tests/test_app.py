"""The web page through Gradio's API (gradio_client), as a script or another program would call it:
photos, bad files, a 40-megapixel photo, edited labels, "다시 쓰기", two visitors at once, the font."""

from __future__ import annotations

import io
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fontTools.ttLib import TTFont
from gradio_client import Client, handle_file
from PIL import Image

from tests.app_server import bad_files, running_app
from utils.photos import MAX_SIDE
from utils.pipeline.app import DISPLAY_SIDE, serve
from utils.pipeline.comment_pipeline import CommentPipeline, demo_photos, sample_photos
from utils.text.dataset import has_hangul, validate_comment
from utils.text.styles import DEFAULT_STYLE, parse_style


@pytest.fixture(scope="module")
def pipeline() -> CommentPipeline:
    return CommentPipeline(offline=True)


@pytest.fixture(scope="module")
def app_url(pipeline):
    with running_app(pipeline) as url:
        yield url


def labels_of(pipeline: CommentPipeline, photo) -> str:
    """What the pipeline itself finds (the detectors are another issue's; the page must agree)."""
    [result] = pipeline.run([photo], progress=False)
    return result.labels


@pytest.fixture(scope="module")
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def comment_on_photo(client: Client, path) -> dict:
    annotated, labels, comment, details, status = client.predict(
        handle_file(str(path)), api_name="/comment_on_photo"
    )
    return {
        "annotated": annotated,
        "labels": labels,
        "comment": comment,
        "details": details,
        "status": status,
    }


def test_a_photo_gets_labels_a_korean_comment_the_models_and_an_annotated_photo(client, pipeline):
    bus = demo_photos()[0]
    answer = comment_on_photo(client, bus)
    assert answer["status"] == "✅ bus.jpg"
    assert answer["labels"] == labels_of(pipeline, bus)
    assert has_hangul(answer["labels"])
    assert has_hangul(answer["comment"])
    assert not validate_comment(answer["comment"], answer["labels"])
    # the shipped T5, or the composer after its comments failed the checks (the details say which)
    assert "default_t5" in answer["details"] or "composer" in answer["details"]
    for stage in ("읽기 load", "검출 detect", "댓글 generate", "표시 annotate"):
        assert stage in answer["details"]
    with Image.open(answer["annotated"]) as annotated, Image.open(bus) as original:
        assert annotated.size == original.size  # bus.jpg (810x1080) is below DISPLAY_SIDE: not shrunk
        assert annotated.tobytes() != original.convert("RGB").tobytes()  # boxes and captions drawn


@pytest.mark.parametrize("kind", ["not an image", "truncated or corrupt JPEG", "empty file (0 bytes)"])
def test_a_bad_file_gets_a_message_naming_it_and_the_next_photo_works(client, pipeline, tmp_path, kind):
    bad = bad_files(tmp_path)[kind]
    answer = comment_on_photo(client, bad)
    assert answer["status"].startswith("⚠️ **사진을 쓸 수 없어요 (cannot use this photo)** — ")
    assert f"{bad.name}: {kind}" in answer["status"]
    assert str(tmp_path) not in answer["status"]  # the server's upload folder is not shown
    assert (answer["annotated"], answer["labels"], answer["comment"]) == (None, "", "")
    grace = sample_photos()[2]
    after = comment_on_photo(client, grace)
    assert after["status"] == "✅ grace_hopper.jpg"
    assert after["labels"] == labels_of(pipeline, grace)


def test_a_40_megapixel_photo_is_analysed_downscaled_and_the_page_says_so(client, tmp_path):
    big = tmp_path / "big.jpg"
    with Image.open(demo_photos()[0]) as bus:
        bus.resize((5164, 7746), Image.Resampling.BILINEAR).save(big, quality=80)  # 40.0 MP
    answer = comment_on_photo(client, big)
    assert answer["status"].startswith("✅ big.jpg — 큰 사진(5164×7746, 40 MP)은 긴 변 4096 px로 줄여서")
    assert f"downscaled to {MAX_SIDE} px" in answer["status"]
    assert answer["labels"] and has_hangul(answer["comment"])
    with Image.open(answer["annotated"]) as annotated:
        assert max(annotated.size) == DISPLAY_SIDE


def test_edited_labels_get_a_comment_and_another_comment_differs(client):
    labels, comment, details, status = client.predict("나무,기쁨 , 안경", api_name="/comment_on_labels")
    assert labels == "기쁨, 나무, 안경"  # emotions first, as the pipeline writes them
    assert not validate_comment(comment, labels)
    assert "없음 (none: labels given)" in details
    assert status == "✅ 라벨로 댓글을 썼어요 (comment for your labels)"
    seen = {comment}
    for _ in range(2):
        labels, again, _, _ = client.predict(labels, comment, api_name="/another_comment")
        assert labels == "기쁨, 나무, 안경"
        assert again != comment
        assert not validate_comment(again, labels)
        seen.add(again)
        comment = again
    assert len(seen) >= 2


def test_a_chosen_style_writes_the_comment_in_that_style(client):
    casual = parse_style("반말,유쾌한")
    labels, comment, details, _ = client.predict("기쁨, 나무", casual.key, api_name="/comment_on_labels")
    assert not validate_comment(comment, labels, style=casual)
    assert validate_comment(comment, labels, style=DEFAULT_STYLE)  # not polite: the default fails it
    assert casual.ko in details  # the writer names the style
    _, again, _, _ = client.predict(labels, comment, casual.key, api_name="/another_comment")
    assert again != comment and not validate_comment(again, labels, style=casual)


def test_unknown_and_empty_labels_are_explained(client):
    _, comment, _, status = client.predict("기쁨, 우주선놀이", api_name="/comment_on_labels")
    assert has_hangul(comment)
    assert status.endswith("(unknown, kept as written): 우주선놀이")
    labels, comment, _, status = client.predict(" , ", api_name="/comment_on_labels")
    assert comment == ""
    assert status.startswith("⚠️ **라벨이 비었어요 (no labels)** — empty label string")


def test_two_visitors_at_once_are_served_in_turn_and_never_mixed(app_url, pipeline, monkeypatch):
    running, most_at_once, lock = [0], [0], threading.Lock()
    unpatched_run = pipeline.run

    def counted_run(*args, **kwargs):
        with lock:
            running[0] += 1
            most_at_once[0] = max(most_at_once[0], running[0])
        time.sleep(0.5)  # long enough for a second request to overlap if the queue let it
        try:
            return unpatched_run(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(pipeline, "run", counted_run)
    bus, _, grace, *_ = sample_photos()
    visitors = [Client(app_url, verbose=False), Client(app_url, verbose=False)]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(comment_on_photo, c, p) for c, p in zip(visitors, (bus, grace), strict=True)]
        answers = [f.result(timeout=120) for f in futures]
    monkeypatch.undo()
    assert most_at_once == [1]
    assert [a["status"] for a in answers] == ["✅ bus.jpg", "✅ grace_hopper.jpg"]
    assert [a["labels"] for a in answers] == [labels_of(pipeline, bus), labels_of(pipeline, grace)]
    for answer, photo in zip(answers, (bus, grace), strict=True):
        with Image.open(answer["annotated"]) as annotated, Image.open(photo) as original:
            assert annotated.size == original.size  # each visitor got their own photo back


def test_the_page_serves_a_korean_font_that_browsers_accept(app_url):
    for name in ("NanumGothic.ttf", "NanumGothicBold.ttf"):
        response = httpx.get(f"{app_url}/fonts/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "font/ttf"
        font = TTFont(io.BytesIO(response.content))
        assert ord("가") in font.getBestCmap() and ord("힣") in font.getBestCmap()
        # Chromium refuses the whole font for the empty TSI3 table the packaged file carries.
        assert not [tag for tag in font.keys() if tag.startswith("TSI")]  # noqa: SIM118
    assert httpx.get(f"{app_url}/fonts/Arial.ttf").status_code == 404
    page = httpx.get(app_url).text
    assert "fonts.googleapis.com" not in page


def test_a_taken_port_is_named_in_a_clear_error(pipeline, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve(pipeline, host="127.0.0.1", port=port, block=False) == 2
    assert f"포트 {port}을(를) 쓸 수 없어요 (port {port} on 127.0.0.1 is in use)" in capsys.readouterr().err
