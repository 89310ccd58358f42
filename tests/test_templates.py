"""Sentences a composer-taught model may write: the banks' remarks for the labels they name, and
an opener or a closer for a sad, angry or startled face (utils.text.templates, round 12)."""

import pytest

from utils.text.composer import OfflineComposer
from utils.text.templates import off_template_sentences, skeleton, unaddressed_feelings


@pytest.mark.parametrize(
    ("comment", "labels", "spliced"),
    [
        # the round-12 raters' nonsense: a flower's remark said of a bee, a remark cut short
        ("꽃이 탐스럽게 피었네요. 벌이 향기로울 것 같아요! 🌼", "꽃, 벌", ["벌이 향기로울 것 같아요"]),
        (
            "와인 잔이 분위기를 한층 살려요. 드럼이 우아하게 해요! 🍷",
            "드럼, 와인, 와인 잔",
            ["드럼이 우아하게 해요"],
        ),
        # a person's remark about food said of a car (차: the car, 차 한 잔: tea)
        (
            "이런 웃음은 언제 봐도 좋아요! 💛 차를 앞에 둔 모습이 정겨워요! 📸",
            "기쁨, 차, 사람, 바퀴",
            ["차를 앞에 둔 모습이 정겨워요"],
        ),
        # a person's remark about clothing with no person in the photo
        ("모자가 참 잘 어울리는 모습이네요! ✨", "모자, 병, 의자", ["모자가 참 잘 어울리는 모습이네요"]),
        # a remark with another particle than the bank's ({obj:까지} 멋스럽게 소화한 모습이에요)
        (
            "웃는 모습이 참 예뻐요! 스카프가 멋스럽게 소화한 모습이에요. 📸",
            "기쁨, 사람, 스카프",
            ["스카프가 멋스럽게 소화한 모습이에요"],
        ),
        # a thing's quiet remark said of a food
        ("자몽이 조용히 곁을 지키네요. ✨", "자몽", ["자몽이 조용히 곁을 지키네요"]),
    ],
)
def test_a_remark_of_another_label_or_kind_is_spliced(comment, labels, spliced):
    names = [x.strip() for x in labels.split(",")]
    assert off_template_sentences(comment, names) == spliced


def test_the_banks_remarks_pass_with_lists_surfaces_dishes_and_labels_inside_words():
    fine = [
        ("레몬과 오렌지 같은 과일이 정말 맛있어 보여요! 🍋", "과일, 레몬, 오렌지"),
        ("접시에 담긴 파스타가 근사해 보여요! 🍝", "접시, 파스타, 테이블"),
        ("테이블 위 와인이 근사한 저녁을 만들어요. 🍷", "와인, 테이블"),
        ("꽃이 탐스럽게 피었네요. 새소리가 들리는 것 같아요. 🐦", "나무, 꽃, 새"),  # 새 in 새소리
        ("강아지와 함께한 모습이 정말 따뜻해 보여요! 🐶", "강아지, 사람"),
        ("가전제품에 자꾸 눈이 가네요. ✨", "눈, 가전제품"),  # the label 눈 inside the remark
        ("꾸밈없이 자연스러운 모습이에요! 🤍", "사람"),
        ("와인 덕분에 분위기가 한층 우아해. 🍷", "와인"),  # casual
    ]
    for comment, labels in fine:
        assert off_template_sentences(comment, [x.strip() for x in labels.split(",")]) == [], comment
    assert (
        skeleton("레몬과 오렌지 같은 과일이 맛있어 보여요!", ["레몬", "오렌지", "과일"])
        == "§ 같은 §이 맛있어 보여요"
    )


def test_the_composers_own_comments_pass_in_every_style():
    from utils.text.styles import all_styles

    composer = OfflineComposer(seed=3)
    sets = [
        "고양이, 장난감, 책",
        "접시, 파스타, 포크",
        "기쁨, 사람, 자전거",
        "슬픔, 나무",
        "버스, 건물, 사람",
    ]
    for style in all_styles():
        for labels in sets:
            comment = composer.compose(labels, style=style)
            names = [x.strip() for x in labels.split(",")]
            assert off_template_sentences(comment, names) == [], (style, comment)
            assert unaddressed_feelings(comment, names) == [], (style, comment)


def test_a_sad_angry_or_startled_face_needs_a_sentence_for_its_feeling():
    assert unaddressed_feelings(
        "진솔한 모습이 그대로 전해져요. 금붕어가 평화로워 보여요. ✨", ["공포", "금붕어"]
    ) == ["공포"]
    assert unaddressed_feelings("꾸밈없는 모습이 마음에 남아요. ✨", ["분노", "사람"]) == ["분노"]
    consoled = "울적한 기분이 얼른 풀리길 바라요! 헬멧이 차분하게 담겼어요. ✨"
    assert unaddressed_feelings(consoled, ["슬픔", "헬멧"]) == []
    # two such faces: one of them said is enough (the composer says one); a smile alone needs none
    assert unaddressed_feelings(consoled, ["분노", "슬픔", "헬멧"]) == []
    assert unaddressed_feelings("헬멧이 든든해 보여요. ✨", ["기쁨", "헬멧"]) == []
