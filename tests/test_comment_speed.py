"""Comment writing without repeated work: the guide's cheap end check, checks remembered, scores
only where they decide, retries that sample the guided candidate alone (tiny local models)."""

from __future__ import annotations

import pytest

from tests.test_decoding import LABELS, _tiny_model
from utils.lm import decoding as decoding_module
from utils.lm.decoding import Decoding, forget_checked_comments
from utils.lm.generate import CommentGenerator, _unfinished
from utils.pipeline.comment_pipeline import RETRY_ROUNDS, RETRY_SAMPLES, CommentPipeline
from utils.text.dataset import validate_comment


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    return _tiny_model(tmp_path_factory.mktemp("t5_speed"), "t5")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "안경이 멋져",
        "안경이 멋져요",
        "안경이 멋져요 😊",
        "멋져요! 그리고",
        "😊",
        "좋은 하루 되세요.",
        "나무가 🌳 좋아요",
    ],
)
def test_the_guide_asks_what_validate_comment_would_say_about_an_unfinished_comment(text):
    assert _unfinished(text) == bool({"cut off", "no emoji"} & set(validate_comment(text, [])))


def test_guide_only_decodes_the_guided_candidate_alone(t5_dir, monkeypatch):
    generator = CommentGenerator.from_pretrained(t5_dir, device="cpu")
    calls = []
    real = generator.model.generate

    def spy(**kwargs):
        calls.append("guided" if "logits_processor" in kwargs else "plain")
        return real(**kwargs)

    monkeypatch.setattr(generator.model, "generate", spy)
    comments = generator.generate(
        LABELS, decoding="guided", guide_only=True, do_sample=True, max_new_tokens=8
    )
    assert len(comments) == len(LABELS) and calls == ["guided"]
    calls.clear()
    generator.generate(LABELS, decoding="guided", max_new_tokens=8)
    assert calls[0] == "plain"  # the usual way: the plain candidate first, the guided one where it lacks
    with pytest.raises(ValueError, match="guide_only needs guided=True"):
        Decoding("x", guide_only=True)


def test_a_comment_is_scored_once_for_its_labels(t5_dir, monkeypatch):
    generator = CommentGenerator.from_pretrained(t5_dir, device="cpu")
    computed = []
    real = generator._score
    monkeypatch.setattr(
        generator, "_score", lambda labels, comments: computed.extend(comments) or real(labels, comments)
    )
    first = generator.score(["기쁨, 안경", "슬픔"], ["안경이 멋져요 😊", "괜찮아요"])
    again = generator.score(["슬픔", "분노", "기쁨, 안경"], ["괜찮아요", "괜찮아요", "안경이 멋져요 😊"])
    assert computed == [
        "안경이 멋져요 😊",
        "괜찮아요",
        "괜찮아요",
    ]  # the same comment under other labels is new
    assert again[0] == first[1] and again[2] == first[0] and first[0] < 0
    generator.forget_scores()
    generator.score(["슬픔"], ["괜찮아요"])
    assert computed[-1:] == ["괜찮아요"] and len(computed) == 4


def test_a_pool_of_one_is_not_scored(t5_dir, monkeypatch):
    generator = CommentGenerator.from_pretrained(t5_dir, device="cpu")
    pools = [["안경과 나무가 멋져요 😊"], ["재킷이 멋져요 🧥", "재킷이 좋아요 🧥"]]
    scored = []
    monkeypatch.setattr(generator, "candidates", lambda batch, decoding, *a, **k: pools[: len(batch)])
    monkeypatch.setattr(
        generator, "score", lambda labels, comments: scored.extend(comments) or [-1.0] * len(comments)
    )
    out = generator.generate(["기쁨, 안경, 나무", "슬픔, 재킷"], decoding="guided")
    assert out == ["안경과 나무가 멋져요 😊", "재킷이 멋져요 🧥"]
    assert scored == pools[1]  # the single candidate names every object: nothing to compare it with


def test_the_same_labels_in_a_batch_are_written_once_and_get_the_same_comment(t5_dir, monkeypatch):
    pipeline = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False)
    asked = []
    real = pipeline.generator.generate
    monkeypatch.setattr(
        pipeline.generator,
        "generate",
        lambda labels, **kwargs: asked.append(list(labels)) or real(labels, **kwargs),
    )
    labels = ["기쁨, 안경", "슬픔", "기쁨, 안경", "슬픔", "분노"]
    comments, writers = pipeline.write_comments(labels)
    assert asked[0] == ["기쁨, 안경", "슬픔", "분노"]
    assert comments[0] == comments[2] and comments[1] == comments[3] and writers[0] == writers[2]
    alone = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False).write_comments(["분노"])
    assert comments[4] == alone[0][0]  # the same comment it gets written alone
    # another comment for the same labels (another seed) is still one per photo
    asked.clear()
    pipeline.write_comments(labels, seed=5)
    assert asked[0] == labels


def test_retries_sample_the_guided_candidate_and_each_comment_is_checked_once(t5_dir, monkeypatch):
    pipeline = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False)
    asked = []
    real = pipeline.generator.generate

    def spy(labels, **kwargs):
        asked.append((len(labels), kwargs.get("guide_only", False), kwargs.get("do_sample", False)))
        if len(asked) > 1:
            retried.append(list(labels))
            assert kwargs["temperature"] < 1.0  # sharper than plain sampling
        return real(labels, max_new_tokens=8, **kwargs)

    retried = []

    checked = []
    real_check = decoding_module.validate_comment

    def counted(comment, labels, style=None):
        checked.append((comment, labels, style))
        return real_check(comment, labels, style=style)

    monkeypatch.setattr(pipeline.generator, "generate", spy)
    monkeypatch.setattr(decoding_module, "validate_comment", counted)
    forget_checked_comments()
    comments, writers = pipeline.write_comments(LABELS)
    # an untrained model's 8-token comments never pass: rounds of sampled guided candidates, then the
    # composer; a round asks only for the rows still failing, RETRY_SAMPLES candidates each, in one batch
    assert asked[0] == (4, False, False) and 1 <= len(asked) - 1 <= RETRY_ROUNDS
    assert all(
        guide and sample and n % RETRY_SAMPLES == 0 and n <= 4 * RETRY_SAMPLES
        for n, guide, sample in asked[1:]
    )
    for batch in retried:  # each failing row's candidates side by side
        assert batch == [row for row in dict.fromkeys(batch) for _ in range(RETRY_SAMPLES)]
    assert "composer" in " ".join(writers) and all(comments)
    assert len(checked) == len(set(checked))  # no comment checked twice for the same labels and style
    greedy = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False, decoding="greedy")
    asked.clear()
    monkeypatch.setattr(greedy.generator, "generate", spy)
    greedy.write_comments(LABELS[:1])
    assert all(not guide_only for _, guide_only, _ in asked)  # no guide in that decoding to sample


def test_a_retry_keeps_the_passing_candidate_the_model_finds_likeliest(t5_dir, monkeypatch):
    pipeline = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False)
    good, better, broken = "나무가 참 싱그러워요 🌳", "나무 그늘이 시원해 보여요 🌳", "나무가"
    scores = {good: -2.0, better: -1.0}
    asked = []

    def score(inputs, comments):
        asked.append(list(comments))
        return [scores[c] for c in comments]

    monkeypatch.setattr(pipeline.generator, "score", score)
    assert pipeline._likeliest_passing([broken, good, better, good], "나무") == better
    assert asked == [[good, better]]  # the broken one is not scored, the repeated one once
    assert pipeline._likeliest_passing([broken, good], "나무") == good and len(asked) == 1
    assert pipeline._likeliest_passing([broken], "나무") is None


def test_a_comment_the_model_is_unsure_of_is_sampled_again_then_composed(t5_dir, monkeypatch):
    pipeline = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False)
    sure, unsure, retried = "나무가 참 싱그러워요 🌳", "의자가 편안해 보여요 🪑", "의자가 아늑해 보여요 🪑"
    scores = {sure: -0.5, unsure: -1.6, retried: -1.2}
    calls = []

    def generate(labels, **kwargs):
        calls.append(list(labels))
        return [sure, unsure] if len(calls) == 1 else [retried] * len(labels)

    monkeypatch.setattr(pipeline.generator, "generate", generate)
    monkeypatch.setattr(pipeline.generator, "score", lambda inputs, comments: [scores[c] for c in comments])
    forget_checked_comments()
    pipeline.generator.confidence_floor = None  # a model without a floor takes what passes the checks
    assert pipeline.write_comments(["나무", "의자"])[0] == [sure, unsure] and len(calls) == 1
    calls.clear()
    pipeline.generator.confidence_floor = -1.0
    comments, writers = pipeline.write_comments(["나무", "의자"])
    assert comments[0] == sure and writers[0] == pipeline.comment_model
    assert len(calls) == 1  # an unsure comment is not sampled again: the composer writes it
    assert comments[1] != unsure and "의자" in comments[1]
    assert "composer" in writers[1] and "unsure (mean log-probability -1.60, below -1.00)" in writers[1]
    # a comment failing the checks is sampled again, and a sample is taken only above the floor
    broken = "의자가"
    calls.clear()
    monkeypatch.setattr(
        pipeline.generator,
        "generate",
        lambda labels, **kwargs: (
            calls.append(list(labels)) or ([sure, broken] if len(calls) == 1 else [retried] * len(labels))
        ),
    )
    comments, writers = pipeline.write_comments(["나무", "의자"])
    assert calls[1:] == [["의자"] * RETRY_SAMPLES] * RETRY_ROUNDS and "composer" in writers[1]
    scores[retried] = -0.8
    calls.clear()
    assert pipeline.write_comments(["나무", "의자"])[0] == [sure, retried] and len(calls) == 2


def test_photos_with_the_labels_of_an_earlier_photo_get_other_comments(t5_dir):
    pipeline = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False)
    photos = [None] * 3
    first, first_by = pipeline.write_photo_comments(["기쁨, 안경", "슬픔", "기쁨, 안경"], photos)
    # the first photo of a label set gets the comment write_comments gives it; a later one another
    fresh = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False)
    assert first[0] == fresh.write_comments(["기쁨, 안경"])[0][0]
    assert first[2] != first[0] and all(first) and len(first_by) == 3
    # and so does the next batch's photo with those labels
    later, _ = pipeline.write_photo_comments(["슬픔", "기쁨, 안경"], photos[:2])
    assert later[0] != first[1] and later[1] not in (first[0], first[2])
    assert all(
        not validate_comment(c, labels) for c, labels in zip(later, ["슬픔", "기쁨, 안경"], strict=True)
    )


def test_a_composer_taught_model_may_not_make_up_a_sentence_that_names_no_label(t5_dir, monkeypatch):
    """Round 10: the raters read the model's spliced closers as nonsense ("한 저녁 보내세요"); a model
    that learnt from the composer (``known_phrases_only``) has them written again."""
    from utils.text.dataset import sentences_no_bank_has

    spliced = "와인 잔이 근사한 저녁을 떠올리게 해요! 한 저녁 보내세요! 🍷"
    assert sentences_no_bank_has(spliced, ["와인 잔"]) == ["한 저녁 보내세요"]
    assert sentences_no_bank_has("나무 그늘이 시원해 보여요! 이 시원한참 보다 가요! 🤍", ["나무"]) == [
        "이 시원한참 보다 가요"
    ]
    # the banks' openers and closers, in either speech level, and sentences naming a label pass
    fine = "한눈에 시선이 가는 사진이에요! 💫 와인 잔이 근사해요. 오늘도 좋은 하루 보내세요. 🍷"
    assert sentences_no_bank_has(fine, ["와인 잔"]) == []
    assert sentences_no_bank_has("와인 잔이 근사해. 다음 사진도 기대할게. 🍷", ["와인 잔"]) == []
    assert (
        sentences_no_bank_has("꾸밈없이 자연스러운 모습이에요! 🤍", ["사람"]) == []
    )  # 모습 names the person

    pipeline = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False)
    monkeypatch.setattr(pipeline.generator, "generate", lambda labels, **kwargs: [spliced] * len(labels))
    forget_checked_comments()
    pipeline.generator.confidence_floor = None
    pipeline.generator.known_phrases_only = False  # a model taught by an LLM may write its own sentences
    assert pipeline.write_comments(["와인 잔"])[0] == [spliced]
    pipeline.generator.known_phrases_only = True
    comments, writers = pipeline.write_comments(["와인 잔"])
    assert (
        comments[0] != spliced and "와인 잔" in comments[0] and not validate_comment(comments[0], "와인 잔")
    )
    assert "a sentence no phrase bank has: 한 저녁 보내세요" in writers[0]

    # round 12: a remark of another label's kind, and a sad face that no sentence consoles
    for labels, written, why in [
        (
            "꽃, 벌",
            "꽃이 탐스럽게 피었네요. 벌이 향기로울 것 같아요! 🌼",
            "no remark of the labels it names: 벌이",
        ),
        ("슬픔, 금붕어", "금붕어가 평화로워 보여요. ✨", "no sentence for the face's feeling: 슬픔"),
    ]:
        assert not validate_comment(written, labels)  # only a composer-taught model is held to these
        monkeypatch.setattr(pipeline.generator, "generate", lambda labels, w=written, **kw: [w] * len(labels))
        forget_checked_comments()
        comments, writers = pipeline.write_comments([labels])
        assert comments[0] != written and not validate_comment(comments[0], labels)
        assert why in writers[0] and "composer" in writers[0]


def test_the_shipped_model_is_marked_as_taught_by_the_composer():
    from utils.paths import ROOT
    from utils.text.dataset import bank_phrases_only, read_dataset

    # what training writes into sns_comment.json: the shipped rows are the composer's phrases only,
    # and one sentence of an LLM's own (or a person's) makes a data set not so
    rows = read_dataset(ROOT / "data" / "text_data" / "comments_train.json")
    assert bank_phrases_only(rows)
    written = ("기쁨, 안경", "안경이 잘 어울려요! 어제 본 영화 얘기도 해 주세요. 😊")
    assert not bank_phrases_only([*rows[:50], written]) and not bank_phrases_only([])

    generator = CommentGenerator.from_pretrained(ROOT / "models" / "default_t5", device="cpu")
    assert generator.known_phrases_only is True and generator.confidence_floor == -0.7
