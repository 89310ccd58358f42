"""validate_comment's rules for everyday photos: nothing invented, nothing glued (utils.text.grounding)."""

import pytest

from utils.text.dataset import named_again, repeated_emojis, validate_comment
from utils.text.grounding import (
    foreign_emojis,
    glued_labels,
    grounding_problems,
    invented_objects,
    kind_of,
    label_fragments,
    missing_particles,
    odd_containers,
    unfounded_moods,
    unfounded_scenes,
)


@pytest.mark.parametrize(
    ("comment", "labels", "invented"),
    [
        ("강아지가 너무 사랑스러워요! 안경이 잘 어울려요. 🐶", ["강아지"], ["안경"]),
        ("오토바이가 멋져요! 립스틱 색도 예뻐요. 🏍️", ["오토바이"], ["립스틱"]),
        ("보는 사람까지 기분 좋아지는 풍경이에요! 나무가 싱그러워요. 🌳", ["나무"], ["사람"]),
        ("와인 잔이 반짝여요! 트럼펫 소리가 들리는 듯해요. 🍷", ["와인 잔"], ["트럼펫"]),
        # a longer name that holds a label is another object: a glass, not the wine
        ("보는 내내 기분이 좋아지네요! 와인 잔이 분위기를 한층 살려요. 🍷", ["와인"], ["와인 잔"]),
        ("곰 인형이 사랑스러워요! 🧸", ["곰"], ["곰 인형", "인형"]),
        # a name of several words with no noun in the middle is found as written
        ("자동차 부품이 잘 나왔어요. 차 한 잔이 향긋해 보여요! 🌿", ["자동차 부품"], ["차 한 잔"]),
    ],
)
def test_an_object_the_labels_do_not_give_is_invented(comment, labels, invented):
    assert invented_objects(comment, labels) == invented
    assert any(
        p.startswith("object not in the labels: ") for p in validate_comment(comment, ", ".join(labels))
    )


def test_labels_their_kind_words_and_other_senses_are_not_invented():
    assert invented_objects("와인 잔이 반짝여요! 와인 한 잔의 여유네요. 🍷", ["와인 잔", "와인"]) == []
    assert (
        invented_objects("강아지가 귀여워요! 동물 친구는 언제나 좋아요. 🐶", ["강아지"]) == []
    )  # its kind's word
    assert invented_objects("피자가 맛있어 보여요! 오늘 메뉴 최고예요. 🍕", ["피자"]) == []
    assert invented_objects("말이 필요 없는 사진이에요! 나무가 예뻐요. 🌳", ["나무"]) == []  # 말: speech
    assert (
        kind_of("강아지") == "animals" and kind_of("피자") == "food_drink" and kind_of("버스") == "vehicles"
    )


@pytest.mark.parametrize(
    ("comment", "labels", "moods"),
    [
        ("이런 웃음은 언제 봐도 좋아요! 나무와 건물이 멋져요. 🌳", ["나무", "건물"], ["기쁨"]),
        ("환한 미소가 보기 좋아요! 오토바이가 멋져요. 🏍️", ["오토바이"], ["기쁨"]),
        ("눈물이 날 것 같은 풍경이에요. 나무가 예뻐요. 🌳", ["나무"], ["슬픔"]),
        ("화난 표정도 멋있어요! 버스가 멋져요. 😡", ["버스"], ["분노"]),
        ("깜짝 놀란 모습이에요! 고양이가 귀여워요. 🐱", ["고양이"], ["공포"]),
        ("고양이가 귀여워요! 😱", ["고양이"], ["공포"]),
        ("이 정도면 놀랄 만했겠어요! 🤗 이럴 땐 푹 자는 게 찐 처방이에요!", ["분노", "슬픔"], ["공포"]),
    ],
)
def test_a_mood_the_labels_do_not_give_is_rejected(comment, labels, moods):
    assert unfounded_moods(comment, labels) == moods
    assert unfounded_moods(comment, [*moods, *labels]) == []
    assert any(p.startswith("mood not in the labels: ") for p in grounding_problems(comment, labels))


def test_an_emoji_of_another_thing_is_rejected():
    assert foreign_emojis("오토바이가 정말 멋져요! 💄", ["오토바이"]) == ["💄"]
    assert foreign_emojis("새가 날아가요! 👓", ["새"]) == ["👓"]
    assert foreign_emojis("립스틱 색이 예뻐요! 💄", ["립스틱"]) == []
    assert foreign_emojis("나무가 싱그러워요! ✨ 🌿", ["나무"]) == []  # a plant's kind emoji
    # 🌿 is no mood emoji any more: under a building it is a plant the labels do not give (round 11)
    assert foreign_emojis("건물 외관이 정말 멋있어요. 🌿", ["건물"]) == ["🌿"]
    assert foreign_emojis("사자가 늠름해요. 🍄", ["사자"]) == ["🍄"]
    assert foreign_emojis("고양이가 귀여워요! 🐶", ["고양이"]) == ["🐶"]  # another animal's face
    assert foreign_emojis("드럼 소리가 들려요! 🍽️", ["드럼"]) == ["🍽️"]  # a plate
    # An emoji that only goes with a label (🍽️ for a table, kept as "loose") is not foreign to it,
    # nor is a kind's end emoji (🐾) to any animal.
    assert foreign_emojis("테이블이 정갈해요! 🍽️", ["테이블"]) == []
    assert foreign_emojis("사자가 늠름해요! 🐾", ["사자"]) == []
    # but no paw for an animal without paws (round 12: 🐾 under an eagle)
    assert foreign_emojis("독수리가 무엇을 보고 있는지 궁금해요! 🐾", ["독수리"]) == ["🐾"]
    assert foreign_emojis("쥐며느리가 신기해요! 🐾", ["쥐며느리"]) == ["🐾"]
    assert foreign_emojis("강아지와 독수리가 보여요! 🐾", ["강아지", "독수리"]) == []


def test_the_composer_gives_no_paw_to_an_animal_without_paws():
    from utils.text.composer import OfflineComposer
    from utils.text.grounding import fits_kind_emoji

    assert not fits_kind_emoji("잠자리") and fits_kind_emoji("스라소니")
    comments = [OfflineComposer().compose(labels, key=k) for labels in ("잠자리", "해마") for k in range(20)]
    assert not any("🐾" in c for c in comments)
    assert any("🐾" in OfflineComposer().compose("스라소니", key=k) for k in range(20))


@pytest.mark.parametrize(
    ("comment", "labels"),
    [
        ("사진 한 장에 이야기가 담겨 있어요! 모자가 정말 잘 어울려요! ✨", "모자, 의자, 쟁반"),
        ("모자가 참 잘 어울리는 모습이네요! ✨", "모자, 병, 의자"),
        ("재킷이 옷차림에 포인트가 돼요. 🧥", "재킷"),
        ("청바지와 부츠까지 스타일에 신경 쓴 게 보여요. 👖", "청바지, 부츠"),
    ],
)
def test_clothing_worn_with_no_one_to_wear_it_is_rejected(comment, labels):
    from utils.text.grounding import worn_without_wearer

    names = [x.strip() for x in labels.split(",")]
    assert worn_without_wearer(comment, names)
    assert any(p.startswith("worn with no one to wear it: ") for p in validate_comment(comment, labels))
    # a person, a face or a body part gives the wearer
    for wearer in ("사람", "기쁨", "머리카락"):
        assert worn_without_wearer(comment, [wearer, *names]) == []
    # and what is said of the thing itself is fine
    assert worn_without_wearer("모자 스타일이 멋스러워요. 🧢", ["모자", "의자"]) == []
    assert worn_without_wearer("패션 소품 디자인이 독특해요. ✨", ["패션 소품"]) == []  # 패션 is its name
    assert worn_without_wearer("패션 소품이 코디를 완성해 줘요. ✨", ["패션 소품"]) == ["패션 소품"]


def test_a_person_is_named_by_their_label_or_by_the_words_people_use():
    from utils.labels import label_named
    from utils.text.dataset import validate_comment

    assert label_named("사람", "강아지와 함께한 모습이 정겨워요") and label_named("사람", "두 분이 정겨워요")
    assert not label_named("사람", "분위기가 좋아요. 기분 좋은 사진이에요")  # 분 inside other words
    assert not label_named("나무", "자연스러운 모습이 보기 좋아요")  # only people labels
    assert validate_comment("강아지와 함께한 모습이 정말 따뜻해 보여요! 🐶", "사람, 강아지") == []
    assert validate_comment("분위기가 정말 좋아요! 🐶", "사람, 강아지") == [
        "label not mentioned: 사람, 강아지"
    ]


@pytest.mark.parametrize(
    ("comment", "labels"),
    [
        ("멋진 사진이에요! 선글라스 🥰", ["선글라스"]),
        ("기린. 얼룩말이 나란히 서 있어요! 🦓", ["기린", "얼룩말"]),
        ("정말 귀여워요! 강아지🐶 오늘도 행복하세요.", ["강아지"]),
        ("사진이 참 좋아요. 자전거가. 🚲", ["자전거"]),
        ("사자가사자가 있어서 사진이 더 재미있어요! 🦁", ["사자"]),  # GPT-2, round 11
        ("고양이강아지가 나란히 있어요! 🐶", ["고양이", "강아지"]),
    ],
)
def test_a_label_left_as_a_fragment_is_rejected(comment, labels):
    assert label_fragments(comment, labels)
    assert any(
        p.startswith("label left as a fragment: ") for p in validate_comment(comment, ", ".join(labels))
    )


@pytest.mark.parametrize(
    ("comment", "labels", "bare"),
    [
        ("와인 근사한 저녁을 만들어요! 테이블이 공간에 잘 어울려요! 🍷", ["와인", "테이블"], ["와인 근사"]),
        ("와인 가 눈에 띄고 테이블도 멋져요! 🍷", ["와인", "테이블"], ["와인 가"]),
        ("의자가 편안해 보여요. 사람 시원해 보여요. 🪑", ["사람", "의자"], ["사람 시원"]),
    ],
)
def test_a_label_without_its_particle_is_rejected(comment, labels, bare):
    assert missing_particles(comment, labels) == bare
    assert f"label without its particle: {', '.join(bare)}" in validate_comment(comment, ", ".join(labels))


def test_a_label_named_again_or_an_emoji_repeated_is_rejected():
    comment = "바퀴와 대포가 또렷하게 잘 나왔어요. 바퀴가 어디든 달려갈 것 같아요. 🛞"
    assert named_again(comment, ["대포", "바퀴"]) == ["바퀴"]
    assert "label named again in another sentence: 바퀴" in validate_comment(comment, "대포, 바퀴")
    comment = "의자가 편안해 보여요! 🪑 음식이 정성스럽게 차려졌네요. 🪑"
    assert repeated_emojis(comment) == ["🪑"]
    assert "emoji repeated: 🪑" in validate_comment(comment, "의자, 음식")
    # a longer label is another label, and a label said twice in one sentence is reported once
    assert named_again("와인 잔이 예뻐요. 와인도 맛있어 보여요. 🍷", ["와인", "와인 잔"]) == []
    twice = validate_comment("재킷과 재킷이 멋져요. 재킷도 좋아요. 🧥", "재킷")
    assert "label named twice in a sentence: 재킷" in twice
    assert not any(p.startswith("label named again") for p in twice)


@pytest.mark.parametrize(
    ("comment", "labels", "scenes"),
    [
        ("사자가 하늘과 잘 어울려요! 예쁜 사진 덕분에 눈이 즐거웠어요. 💫", ["사자"], ["하늘"]),
        ("차가 깔끔하게 관리된 것 같아요. 나무가 바다와 잘 맞아요. 🚗", ["나무", "차"], ["바다"]),
        ("강아지가 숲속을 뛰어다녀요! 노을이 참 예뻐요. 🐶", ["강아지"], ["숲", "노을"]),
    ],
)
def test_a_scene_no_label_speaks_of_is_rejected(comment, labels, scenes):
    assert unfounded_scenes(comment, labels) == scenes
    assert f"scene not in the labels: {', '.join(scenes)}" in validate_comment(comment, ", ".join(labels))


def test_scenes_of_a_labels_own_remarks_and_figurative_ones_pass():
    assert unfounded_scenes("등대가 바다와 잘 어울려요! 🌊", ["등대"]) == []
    assert unfounded_scenes("고층 빌딩이 하늘을 찌를 듯해요.", ["고층 빌딩"]) == []
    assert unfounded_scenes("나무가 싱그러워요. 맑은 하늘 같은 내일이 오길 바라요.", ["나무"]) == []
    assert unfounded_scenes("바다사자가 귀여워요! 하늘색 모자도 예뻐요.", ["바다사자", "모자"]) == []


@pytest.mark.parametrize(
    ("comment", "labels", "glued"),
    [
        ("그 마음 충분히 이해가 돼요! 🥺 헬멧이 내일은 더 좋은 날이 될 거예요.", ["헬멧"], ["헬멧"]),
        (
            "모자가 있는 그대로의 모습이 따뜻하게 느껴져요! 음식이 맛있어 보여요. 📸",
            ["모자", "음식"],
            ["모자"],
        ),
        ("차가 듬직하게 서 있네요! 바퀴가 멋진 사진 잘 보고 갑니다. ✨", ["차", "바퀴"], ["바퀴"]),
        ("차가 듬직하게 서 있네요. 택시 다음 사진도 기대할게요! 📸", ["차", "택시"], ["택시"]),
    ],
)
def test_a_label_glued_onto_a_stock_phrase_is_rejected(comment, labels, glued):
    assert glued_labels(comment, labels) == glued
    assert f"label glued to a stock phrase: {', '.join(glued)}" in validate_comment(
        comment, ", ".join(labels)
    )
    # a label's own short remark ends like some stock phrases do, and is fine
    assert glued_labels("고양이가 너무 귀여워요! 트럭이 존재감이 확실해요. 🐱", ["고양이", "트럭"]) == []
    assert glued_labels("드럼 소리가 들리는 것 같아요. 🥁", ["드럼"]) == []  # the drum's own sound


@pytest.mark.parametrize(
    ("comment", "labels", "odd"),
    [
        ("커피잔에 담긴 파스타가 참 정갈해 보여요. ☕", ["파스타", "커피잔"], ["커피잔에 담긴 파스타"]),
        ("받침 접시에 담긴 커피가 향긋해요. ☕", ["받침 접시", "커피"], ["받침 접시에 담긴 커피"]),
        ("그릇에 담긴 주스가 상큼해 보여요. 🧃", ["그릇", "주스"], ["그릇에 담긴 주스"]),
        ("식기에 담긴 딸기가 근사해 보여요. 🍓", ["딸기", "식기"], ["식기에 담긴 딸기"]),
    ],
)
def test_a_cup_holding_a_food_or_a_dish_holding_a_drink_is_rejected(comment, labels, odd):
    assert odd_containers(comment, labels) == odd
    assert f"nothing of the kind goes in it: {', '.join(odd)}" in validate_comment(comment, ", ".join(labels))
    # what they hold is fine
    assert odd_containers("커피잔에 담긴 커피가 근사해 보여요. ☕", ["커피", "커피잔"]) == []
    assert odd_containers("접시에 담긴 새우가 정말 맛있어 보여요. 🍤", ["새우", "접시"]) == []
    assert odd_containers("와인 잔에 담긴 와인이 근사해 보여요. 🍷", ["와인", "와인 잔"]) == []


def test_a_label_that_holds_another_is_one_name_not_two_run_together():
    assert label_fragments("바다사자가 바위 위에서 쉬고 있어요! 🦭", ["바다사자", "사자"]) == []
    assert label_fragments("사자가 늠름해요. 🦁", ["사자"]) == []


def test_a_label_named_twice_counts_every_particle():
    comment = "선글라스가 멋져요. 코트와 코트까지 스타일에 신경 쓴 게 보여요! 🧥"
    assert "label named twice in a sentence: 코트" in validate_comment(comment, "선글라스, 코트")


def test_good_everyday_comments_pass():
    for comment, labels in [
        ("나무와 건물이 어우러진 풍경이 멋져요! 산책하고 싶어지네요. 🌳", "나무, 건물"),
        ("사진 속 사람들 모습이 참 편안해 보여요. 좋은 하루 보내세요! ✨", "사람"),
        ("기린과 얼룩말이 나란히 서 있어요! 자연 그대로의 모습이 멋져요. 🦒", "기린, 얼룩말"),
        ("환하게 웃는 모습이 참 보기 좋아요! 사람의 마음까지 밝아지네요. 😊", "기쁨, 사람"),
        ("오토바이를 탄 사람의 모습이 멋져요! 시원하게 달리는 느낌이에요. 🏍️", "사람, 오토바이"),
        ("팬케이크 같은 음식이 정말 맛있어 보여요. 테이블 주변도 아늑해요. 🥞", "팬케이크, 음식, 테이블"),
        ("빵 굽기가 딱 좋은 날이에요. 오늘도 행복하세요! 🥖", "빵"),
    ]:
        assert validate_comment(comment, labels) == [], comment
