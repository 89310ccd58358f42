"""Bad and unusual photos: each comes out as 8-bit RGB, or as a PhotoError naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from utils.photos import MAX_SIDE, PhotoError, load_photo
from utils.pipeline.comment_pipeline import demo_photos


def assert_rgb8(image: Image.Image) -> None:
    assert image.mode == "RGB"
    assert np.asarray(image).dtype == np.uint8


def test_a_normal_jpeg_is_unchanged_in_size():
    bus, _ = demo_photos()
    image = load_photo(bus)
    assert_rgb8(image)
    assert image.size == Image.open(bus).size


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty file (0 bytes)"),
        ("notes.jpg", "이건 사진이 아닙니다\n".encode(), "not an image"),
    ],
)
def test_unreadable_files_name_the_file_and_the_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PhotoError) as caught:
        load_photo(path)
    assert str(caught.value).startswith(str(path))
    assert reason in str(caught.value)


def test_a_truncated_jpeg_is_reported(tmp_path):
    bus, _ = demo_photos()
    path = tmp_path / "cut.jpg"
    path.write_bytes(bus.read_bytes()[:5000])
    with pytest.raises(PhotoError, match=r"cut\.jpg: truncated or corrupt JPEG"):
        load_photo(path)


def test_a_truncated_png_is_reported(tmp_path):
    whole = tmp_path / "whole.png"
    Image.new("RGB", (200, 100), (5, 6, 7)).save(whole)
    path = tmp_path / "cut.png"
    path.write_bytes(whole.read_bytes()[:70])
    with pytest.raises(PhotoError, match=r"cut\.png: truncated or corrupt PNG"):
        load_photo(path)


def test_a_missing_file_or_a_folder_is_reported(tmp_path):
    with pytest.raises(PhotoError, match=r"nope\.png: no such file"):
        load_photo(tmp_path / "nope.png")
    (tmp_path / "album.jpg").mkdir()
    with pytest.raises(PhotoError, match=r"album\.jpg: not a file"):
        load_photo(tmp_path / "album.jpg")


def test_png_with_alpha_is_composited_on_white(tmp_path):
    pixels = np.zeros((20, 30, 4), dtype=np.uint8)
    pixels[:, :15] = (255, 0, 0, 255)  # opaque red on the left, fully transparent on the right
    path = tmp_path / "alpha.png"
    Image.fromarray(pixels, mode="RGBA").save(path)
    image = load_photo(path)
    assert_rgb8(image)
    assert image.getpixel((2, 2)) == (255, 0, 0)
    assert image.getpixel((25, 2)) == (255, 255, 255)


def test_palette_png_with_a_transparent_colour_is_composited_on_white(tmp_path):
    source = Image.new("P", (8, 8), 0)
    source.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    source.paste(1, (0, 0, 4, 8))
    path = tmp_path / "palette.png"
    source.save(path, transparency=0)
    image = load_photo(path)
    assert_rgb8(image)
    assert image.getpixel((1, 1)) == (0, 200, 0)
    assert image.getpixel((6, 1)) == (255, 255, 255)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    path = tmp_path / "gray.jpg"
    Image.linear_gradient("L").resize((64, 48)).save(path)
    image = load_photo(path)
    assert_rgb8(image)
    r, g, b = (np.asarray(image)[..., i].astype(int) for i in range(3))
    assert np.array_equal(r, g) and np.array_equal(g, b)
    assert r.max() - r.min() > 200


def test_cmyk_jpeg_keeps_its_colours(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("RGB", (40, 40), (200, 30, 30)).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    image = load_photo(path)
    assert_rgb8(image)
    r, g, b = image.getpixel((20, 20))
    assert r > 150 and g < 80 and b < 80


def test_16_bit_png_is_scaled_to_8_bit(tmp_path):
    samples = np.linspace(0, 65535, 64 * 32).reshape(32, 64).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(samples).save(path)
    assert Image.open(path).mode.startswith("I")
    image = load_photo(path)
    assert_rgb8(image)
    values = np.asarray(image)[..., 0]
    assert values[0, 0] == 0 and values[-1, -1] == 255
    assert abs(int(values[16, 32]) - round(int(samples[16, 32]) / 257)) <= 1


def test_exif_orientation_6_is_applied(tmp_path):
    stored = Image.new("RGB", (60, 40), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 10, 40))  # red strip on the stored left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # camera turned 90° clockwise: the viewer rotates 90° clockwise
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    image = load_photo(path)
    assert image.size == (40, 60)
    r, _, b = image.getpixel((20, 3))  # the stored left edge is now the top
    assert r > 200 and b < 60
    assert image.getpixel((20, 56))[2] > 200


def test_an_8000_pixel_photo_is_downscaled_to_the_limit(tmp_path):
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (8000, 8000), (10, 120, 60)).save(path, quality=70)
    image = load_photo(path)
    assert_rgb8(image)
    assert max(image.size) <= MAX_SIDE
    assert image.size[0] == image.size[1] >= MAX_SIDE // 2
    assert np.allclose(image.getpixel((100, 100)), (10, 120, 60), atol=6)


def test_a_large_png_is_downscaled_with_its_aspect_ratio(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("L", (6000, 1500), 128).save(path)
    image = load_photo(path)
    assert_rgb8(image)
    assert image.size == (MAX_SIDE, 1024)
