import pytest
from PIL import Image

from utils import plots
from utils.pipeline import PhotoResult
from utils.textdata import strip_emojis


def test_plot_curves_writes_a_png_and_checks_its_arguments(tmp_path):
    out = plots.plot_curves(
        {"가": [(1, 2.0), (2, 1.5)], "나": [(1, 3.0), (2, 2.5)]}, tmp_path / "a.png", title="손실"
    )
    assert out.exists() and Image.open(out).size[0] > 500
    with pytest.raises(ValueError, match="best must be 'min' or 'max'"):
        plots.plot_curves({"가": [(1, 2.0)]}, tmp_path / "b.png", title="x", best="lowest")


def test_photo_grid_needs_annotated_photos(tmp_path):
    with pytest.raises(ValueError, match="no annotated photos"):
        plots.show_photo_results([PhotoResult(source="a.jpg")])
    image = tmp_path / "a.jpg"
    Image.new("RGB", (64, 48), "white").save(image)
    result = PhotoResult(source="a.jpg", labels="기쁨", comment="좋아요! 😊", annotated=str(image))
    fig = plots.show_photo_results([result, result], columns=2)
    assert "좋아요!" in fig.axes[0].get_title(loc="left") and "😊" not in fig.axes[0].get_title(loc="left")


def test_strip_emojis_keeps_the_words():
    assert strip_emojis("행복해 보여요! 💛 좋은 하루 ✨️ 보내세요 😊") == "행복해 보여요! 좋은 하루 보내세요"
