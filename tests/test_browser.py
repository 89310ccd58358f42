"""The web page in a real browser: Debian's chromium (``make browser`` installs it) driven by
Playwright. A photo is uploaded as a visitor would, the page must show labels, a Hangul comment in
the page's own Korean font and the annotated photo, survive a broken upload, and fetch nothing
from outside the app. The screenshot in the README is made here (``UPDATE_SCREENSHOT=1``)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from tests.app_server import bad_files, running_app
from utils.paths import MODELS, ROOT
from utils.pipeline.comment_pipeline import demo_photos
from utils.text.dataset import has_hangul, validate_comment
from utils.text.styles import parse_style

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = MODELS / "pipeline" / "app_screenshot.png"
SCREENSHOT_LIMIT = 300_000  # bytes; the README shows it
CASUAL = parse_style("반말,유쾌한")
WAIT_MS = 60_000  # the first photo also warms the detectors up


@pytest.fixture(scope="module")
def visit():
    """A fresh app and one browser tab on it; yields (page, requests that left the app's host)."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
    with running_app() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800}, locale="ko-KR")
        host = urlparse(url).netloc
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if _leaves(r.url, host) else None)
        page.goto(url)
        yield page, outside
        browser.close()


def _leaves(url: str, host: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc != host


def value(page: Page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea").input_value()


def save_screenshot(page: Page, tmp_path: Path) -> Path:
    """The page as a 256-colour PNG (a full-colour one is several times larger); into the README's
    place with UPDATE_SCREENSHOT=1, else into tmp_path."""
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / SCREENSHOT.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target


def test_an_uploaded_photo_shows_labels_a_hangul_comment_in_the_page_font_and_the_annotated_photo(
    visit, tmp_path
):
    page, outside = visit
    page.locator("#photo input[type=file]").set_input_files(str(demo_photos()[0]))
    expect(page.locator("#status")).to_have_text("✅ bus.jpg", timeout=WAIT_MS)
    labels, comment = value(page, "labels"), value(page, "comment")
    assert has_hangul(labels) and has_hangul(comment)
    expect(page.locator("#details")).to_contain_text("댓글 (comment writer)")
    annotated = page.locator("#annotated img")
    expect(annotated).to_have_count(1)
    assert annotated.evaluate("img => img.complete && img.naturalWidth") == 810  # bus.jpg is 810x1080

    # Hangul is drawn with the font the page serves (Debian's chromium has no Korean font of its own).
    page.evaluate("document.fonts.ready")
    loaded = page.evaluate(
        "[...document.fonts].filter(f => f.family.replaceAll('\"', '') === 'NanumGothic')"
        ".map(f => f.weight + ' ' + f.status)"
    )
    assert "400 loaded" in loaded, loaded
    family = page.locator("#comment textarea").evaluate("el => getComputedStyle(el).fontFamily")
    assert family.split(",")[0].strip("\"' ") == "NanumGothic"
    assert outside == []

    shot = save_screenshot(page, tmp_path)
    assert shot.stat().st_size < SCREENSHOT_LIMIT
    with Image.open(shot) as image:
        assert image.width == 1000 and image.height > 800  # the whole page, not just the viewport


def test_a_broken_upload_shows_its_message_and_the_page_keeps_working(visit, tmp_path):
    page, outside = visit
    for kind, bad in bad_files(tmp_path).items():
        page.locator("#photo input[type=file]").set_input_files(str(bad))
        expect(page.locator("#status")).to_contain_text(f"{bad.name}: {kind}", timeout=WAIT_MS)
        expect(page.locator("#status")).to_contain_text("사진을 쓸 수 없어요 (cannot use this photo)")
        assert value(page, "comment") == ""
        expect(page.locator("#annotated img")).to_have_count(0)
    page.get_by_text("grace_hopper.jpg", exact=True).click()  # an example photo
    expect(page.locator("#status")).to_contain_text("✅ grace_hopper.jpg", timeout=WAIT_MS)
    assert has_hangul(value(page, "comment"))
    expect(page.locator("#annotated img")).to_have_count(1)
    assert outside == []


def test_edited_labels_get_their_comment_and_another_comment_and_style_differ(visit):
    page, _ = visit
    page.locator("#labels textarea").fill("기쁨, 안경, 나무")
    page.locator("#labels textarea").press("Enter")
    expect(page.locator("#status")).to_have_text("✅ 라벨로 댓글을 썼어요 (comment for your labels)")
    first = value(page, "comment")
    assert "안경" in first and "나무" in first
    page.locator("#another").click()
    expect(page.locator("#comment textarea")).not_to_have_value(first, timeout=WAIT_MS)
    again = value(page, "comment")
    assert has_hangul(again) and "안경" in again and "나무" in again
    assert value(page, "labels") == "기쁨, 안경, 나무"

    page.locator("#style input").click()  # another style rewrites the comment for the same labels
    page.get_by_role("option", name=str(CASUAL)).click()
    expect(page.locator("#comment textarea")).not_to_have_value(again, timeout=WAIT_MS)
    assert not validate_comment(value(page, "comment"), "기쁨, 안경, 나무", style=CASUAL)
    expect(page.locator("#details")).to_contain_text(CASUAL.ko)  # the writer names the style


def test_the_readme_screenshot_is_committed_and_small():
    assert SCREENSHOT.exists(), "make the screenshot: UPDATE_SCREENSHOT=1 pytest tests/test_browser.py"
    assert SCREENSHOT.stat().st_size < SCREENSHOT_LIMIT
    assert "models/pipeline/app_screenshot.png" in (ROOT / "README.md").read_text(encoding="utf-8")
