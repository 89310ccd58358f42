import math

import pytest

from utils.lm import metrics


def test_reference_bleu_is_character_level_like_the_reference():
    scores = metrics.reference_bleu(["가나다"], ["가나라"])
    # characters: 가 나 다 vs 가 나 라 → unigram precision 2/3, equal lengths so no brevity penalty
    assert scores["char_bleu_1"] == pytest.approx(2 / 3)
    # bigrams: (가나) matches, (나다) does not → 1/2; BLEU-2 = sqrt(2/3 * 1/2)
    assert scores["char_bleu_2"] == pytest.approx(math.sqrt(2 / 3 * 1 / 2))
    assert metrics.reference_bleu(["같은 문장이에요"], ["같은 문장이에요"])["char_bleu_4"] == pytest.approx(
        1.0
    )


def test_meteor_works_offline_without_wordnet():
    same = "안경이 정말 잘 어울리세요"
    assert metrics.reference_meteor([same], [same]) > 0.9
    assert metrics.reference_meteor(["완전히 다른 말"], ["안경이 어울려요"]) == 0.0


def test_rouge_keeps_hangul_and_survives_an_empty_hypothesis():
    scores = metrics.rouge_f(["오늘 기분 좋아 보여요", ""], ["오늘 정말 기분 좋아요", "나무가 멋져요"])
    # first pair: 2 of 4 tokens shared → F 0.5; the empty one scores 0; the mean is 0.25
    assert scores["rouge_1_f"] == pytest.approx(0.25, abs=1e-6)
    assert scores["rouge_2_f"] == 0.0


def test_morphemes_split_particles_so_korean_scores_see_shared_words():
    assert metrics.morphemes("안경이").split()[0] == metrics.morphemes("안경을").split()[0] == "안경"
    words = metrics.rouge_f(["안경이 멋져요"], ["안경을 쓰셨네요"])["rouge_1_f"]
    morphs = metrics.korean_scores(["안경이 멋져요"], ["안경을 쓰셨네요"])["rouge_morpheme_1_f"]
    assert words == 0.0 and morphs > 0.0


def test_evaluate_comments_reports_every_score_and_checks_lengths():
    hyps = ["안경이 잘 어울리세요 😊", "나무가 정말 멋져요 🌳"]
    scores = metrics.evaluate_comments(hyps, hyps, ["안경", "나무"])
    assert scores["meteor"] > 0.95  # METEOR's fragmentation penalty keeps it just under 1
    for key in ("char_bleu_4", "rouge_l_f", "sacrebleu_morpheme", "chrf", "rouge_morpheme_l_f"):
        assert scores[key] == pytest.approx(1.0, abs=1e-3), key
    assert scores["label_coverage"] == 1.0 and scores["question_rate"] == 0.0 and scores["emoji_rate"] == 1.0
    with pytest.raises(ValueError, match="2 generated, 1 references"):
        metrics.evaluate_comments(hyps, hyps[:1], ["안경", "나무"])


def test_comment_stats_counts_questions_and_missing_objects():
    stats = metrics.comment_stats(["안경 멋져요 😊", "어디 가세요?"], ["안경", "나무"])
    assert stats["question_rate"] == 0.5
    assert stats["label_coverage"] == 0.5
    assert stats["emoji_rate"] == 0.5
    # A person is named as people are (모습, 분) as well as by the label itself.
    assert metrics.label_coverage("강아지와 함께한 모습이 정겨워요 🐶", "사람, 강아지") == 1.0
    assert metrics.label_coverage("강아지가 귀여워요 🐶", "사람, 강아지") == 0.5
