import pytest
from PIL import Image

from utils import plots
from utils.pipeline.comment_pipeline import PhotoResult
from utils.pipeline.gallery import show_photo_results
from utils.text.dataset import strip_emojis


def test_plot_curves_writes_a_png_and_checks_its_arguments(tmp_path):
    out = plots.plot_curves(
        {"가": [(1, 2.0), (2, 1.5)], "나": [(1, 3.0), (2, 2.5)]}, tmp_path / "a.png", title="손실"
    )
    assert out.exists() and Image.open(out).size[0] > 500
    with pytest.raises(ValueError, match="best must be 'min' or 'max'"):
        plots.plot_curves({"가": [(1, 2.0)]}, tmp_path / "b.png", title="x", best="lowest")


def test_photo_grid_needs_annotated_photos(tmp_path):
    with pytest.raises(ValueError, match="no annotated photos"):
        show_photo_results([PhotoResult(source="a.jpg")])
    image = tmp_path / "a.jpg"
    Image.new("RGB", (64, 48), "white").save(image)
    result = PhotoResult(source="a.jpg", labels="기쁨", comment="좋아요! 😊", annotated=str(image))
    fig = show_photo_results([result, result], columns=2)
    assert "좋아요!" in fig.axes[0].get_title(loc="left") and "😊" not in fig.axes[0].get_title(loc="left")


def test_strip_emojis_keeps_the_words():
    assert strip_emojis("행복해 보여요! 💛 좋은 하루 ✨️ 보내세요 😊") == "행복해 보여요! 좋은 하루 보내세요"


def test_result_card_puts_labels_and_comment_under_the_photo(tmp_path):
    import numpy as np

    from utils.pipeline.gallery import result_card

    with pytest.raises(ValueError, match="a.jpg: no annotated photo"):
        result_card(PhotoResult(source="a.jpg"), tmp_path / "card.png")
    image = tmp_path / "a.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (600, 800, 3), dtype=np.uint8)).save(image)
    result = PhotoResult(
        source="a.jpg", labels="강아지, 자전거", comment="귀여운 강아지예요! " * 6, annotated=str(image)
    )
    card = Image.open(result_card(result, tmp_path / "card.png")).convert("L")
    assert (
        card.width == 560 and card.height > 420 + 3 * 20
    )  # the photo scaled to 560 × 420, then 3+ text lines
    caption = np.asarray(card)[425:]
    assert (caption < 128).sum() > 500  # dark glyphs on the white panel
    assert (tmp_path / "card.png").stat().st_size < 200_000
