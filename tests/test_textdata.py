import json

import pytest

from utils.text import dataset as textdata
from utils.text.dataset import DatasetFormatError, validate_comment

PAIRS = [
    ("슬픔, 재킷", "재킷이 정말 잘 어울려요. 힘내세요! 💪"),
    ("기쁨, 안경, 나무", "환한 미소가 보기 좋아요! 안경도 나무도 멋져요 😊"),
    ("나무", "푸른 나무가 싱그러워요 🌳"),
]


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_round_trip_both_formats(tmp_path, suffix):
    path = textdata.write_dataset(PAIRS, tmp_path / f"d{suffix}")
    assert textdata.read_dataset(path) == PAIRS


def test_reference_format_is_keyed_by_string_index(tmp_path):
    path = textdata.write_dataset(PAIRS, tmp_path / "d.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data) == ["0", "1", "2"]
    assert data["0"] == ["슬픔, 재킷", PAIRS[0][1]]


def test_reference_rows_come_back_in_numeric_order(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"10": ["나무", "b 🌳"], "2": ["나무", "a 🌳"]}), encoding="utf-8")
    assert [c for _, c in textdata.read_dataset(path)] == ["a 🌳", "b 🌳"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"0": ["나무", "좋아요"], "1": ["나무"]}', r"row 1: expected \[labels, comment\]"),
        ('{"0": ["나무", 3]}', "row 0: labels and comment must be strings"),
        ('["나무", "좋아요"]', "expected a JSON object"),
        ('{"0": ["나무", "좋아요"],', "not valid JSON"),
        ('{"x": ["나무", "좋아요"]}', "key is not a row index"),
        ('{"0": ["", "좋아요"]}', "row 0: empty label string"),
    ],
)
def test_malformed_reference_file_names_file_row_and_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=message) as info:
        textdata.read_dataset(path)
    assert str(path) in str(info.value)


def test_malformed_jsonl_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"labels": "나무", "comment": "좋아요"}\n{"labels": "나무"}\n', encoding="utf-8")
    with pytest.raises(DatasetFormatError, match=r"bad.jsonl: row 2: missing field\(s\) \['comment'\]"):
        textdata.read_dataset(path)


def test_cp949_file_is_reported_not_garbled(tmp_path):
    path = tmp_path / "cp.json"
    path.write_bytes(json.dumps({"0": ["나무", "좋아요"]}, ensure_ascii=False).encode("cp949"))
    with pytest.raises(DatasetFormatError, match="not UTF-8"):
        textdata.read_dataset(path)


def test_append_survives_a_killed_writer(tmp_path):
    path = tmp_path / "out.jsonl"
    textdata.append_jsonl(path, {"labels": "나무", "comment": "a"})
    with path.open("a", encoding="utf-8") as f:  # what a SIGKILL mid-write leaves behind
        f.write('{"labels": "안경", "comm')
    assert [r["labels"] for r in textdata.read_jsonl(path)] == ["나무"]
    textdata.append_jsonl(path, {"labels": "안경", "comment": "b"})
    assert [r["labels"] for r in textdata.read_jsonl(path)] == ["나무", "안경"]
    assert path.read_text(encoding="utf-8").count("\n") == 2


def test_split_is_seeded_disjoint_by_label_string_and_complete():
    pairs = [
        (f"기쁨, {obj}", f"{obj} 좋아요 😊 {i}")
        for i in range(5)
        for obj in ["나무", "안경", "책", "차", "의자"] * 20
    ]
    parts = textdata.split_dataset(pairs, val=0.1, test=0.1, seed=1)
    assert parts == textdata.split_dataset(pairs, val=0.1, test=0.1, seed=1)
    assert sum(len(p) for p in parts.values()) == len(pairs)
    label_sets = [{labels for labels, _ in part} for part in parts.values()]
    assert not (
        label_sets[0] & label_sets[1] or label_sets[0] & label_sets[2] or label_sets[1] & label_sets[2]
    )
    with pytest.raises(ValueError, match="fractions"):
        textdata.split_dataset(pairs, val=0.6, test=0.5)


GOOD = "환한 미소가 보기 좋아요! 안경도 나무도 멋져요 😊"


def test_a_good_comment_has_no_problems():
    assert validate_comment(GOOD, "기쁨, 안경, 나무") == []
    assert validate_comment("푸른 나무가 싱그러워요. 좋은 하루 보내세요 🌳", ["나무"]) == []


@pytest.mark.parametrize(
    ("comment", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("안경이 잘 어울리고 나무가 😊 정말 멋지", "cut off"),
        ("안경과 나무가 멋져요 😊 " + "정말 " * 40 + "좋아요", "over 120 characters"),
        ("안경이 어디 거예요? 나무도 좋아요 😊", "question"),
        ("안경과 나무가 잘 어울리는데 어디서 찍으셨나요 😊", "question"),
        ("안경과 나무 사진 어떠세요 😊", "question"),
        ("Nice glasses 😊", "no Hangul"),
        ("안경과 나무가 멋져요.", "no emoji"),
        ("안경이 멋져요 😊", "label not mentioned: 나무"),
    ],
)
def test_each_problem_is_reported(comment, problem):
    problems = validate_comment(comment, "기쁨, 안경, 나무")
    assert any(p.startswith(problem) for p in problems), problems


def test_more_than_three_sentences_is_a_problem_and_an_emoji_is_no_sentence():
    four = "사진 색감이 참 예뻐요! 🙂 나무가 풍경을 한층 살려 주네요. 건물 외관이 정말 멋있어요. 오늘도 좋은 하루 보내세요. 🍃"
    assert textdata.sentence_count(four) == 4
    assert validate_comment(four, "나무, 건물") == ["over 3 sentences (4)"]
    three = "사진 색감이 참 예뻐요! 🙂 나무가 풍경을 한층 살려 주네요~~ 건물 외관이 정말 멋있어요… 🍃"
    assert textdata.sentence_count(three) == 3
    assert validate_comment(three, "나무, 건물") == []


def test_statements_are_not_mistaken_for_questions():
    for text in [
        "사진을 보니 기분이 좋아요 😊",
        "안경이 멋집니다 😊",
        "같이 가요 😊",
        "좋은 하루 보내세요 🌳",
    ]:
        assert not textdata.has_question(text), text


def test_a_label_named_twice_in_a_sentence_or_left_dangling_is_a_problem():
    twice = "label named twice in a sentence: "
    assert validate_comment("나무, 안경과 안경이 숨어 있어! 👓", "기쁨, 안경, 나무") == [twice + "안경"]
    assert validate_comment("강아지가 눈에 띄고 강아지도 멋져요. 🐾", "강아지") == [twice + "강아지"]
    assert validate_comment("살짝 보이는 귀가 귀여워요! ✨", "귀") == []  # 귀여워요 is another word
    assert validate_comment("자전거 바퀴와 바퀴가 보여요 🛞", "자전거 바퀴, 바퀴") == []
    assert validate_comment("차, 차 한 잔과 의자가 보여요 🍵", "차, 차 한 잔, 의자") == []
    # in two sentences: another rule, the comment going round in circles
    assert validate_comment("차와 달팽이가 있어요. 차가 멋져요 🐌", "차, 달팽이") == [
        "label named again in another sentence: 차"
    ]
    dangling = "sentence ends after a label: "
    assert validate_comment("건물이 멋있어요. 비행기가 🏢", "건물, 비행기")[0] == dangling + "비행기"
    assert validate_comment("힘내요! 스키가 🍀 헬멧이 깔끔해요. 🪴", "스키, 헬멧")[0] == dangling + "스키"
    assert validate_comment("스키가 좋아요 🍀", "스키") == []


def test_a_verb_or_adjective_said_twice_is_a_problem_and_a_noun_is_not():
    said_twice = "predicate said twice: "
    # round 10's shipped T5 for 나무, 건물, and the derived adjective the raters flagged
    assert said_twice + "살리다" in validate_comment(
        "건물이 도시 분위기를 살려 줘요! 나무가 풍경을 한층 살려 줘요. 🍃", "나무, 건물"
    )
    assert said_twice + "여유롭" in validate_comment(
        "고양이가 여유로워 보여요. 오후가 여유로워요. 🐱", "고양이"
    )
    assert said_twice + "담기다" in validate_comment(
        "평온한 공기가 담겼네요. 접시에 담긴 과일이 맛있어 보여요. 🍎", "과일, 접시"
    )
    assert said_twice + "띄다" in validate_comment(
        "도끼가 특히 눈에 띄어요. 빨대가 특히 눈에 띄어요. ✨", "도끼, 빨대"
    )
    # one word in two forms is still one word; common stems (보이다, 주다, 좋다) and nouns may come again
    assert (
        validate_comment(
            "자연스러운 모습이 멋져요! 강아지와 함께한 모습에 마음이 따뜻해져요. 🐾", "사람, 강아지"
        )
        == []
    )
    assert validate_comment("나무가 풍경을 살려 줘요. 건물이 멋있어 보여요. 🌳", "나무, 건물") == []
    assert validate_comment("반짝반짝 빛나는 별이 예뻐요. 🌟", "별") == []


def test_a_particle_in_the_wrong_form_after_a_label_is_rejected():
    from utils.text.dataset import particle_errors, validate_comment

    assert particle_errors("병가 예뻐요! 드럼가 멋져요. 나무가 좋아요 🌳", ["병", "드럼", "나무"]) == [
        "병가",
        "드럼가",
    ]
    assert particle_errors("사람과 나무이 보여요 🌳", ["사람", "나무"]) == ["나무이"]
    assert particle_errors("병이 예쁘고 드럼이 멋져요 🥁", ["병", "드럼"]) == []
    assert "particle does not agree with the label: 병가" in validate_comment("병가 참 예뻐요! 🍾", "병")
