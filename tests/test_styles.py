"""Comment styles: names and parsing, the model-input prefix, style mixes, the casual rule table,
and the style checker on hand-written sentences."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from utils import __main__ as cli
from utils.lm import training as lm
from utils.lm.data import with_label_orders, with_rare_objects_repeated
from utils.lm.generate import CommentGenerator
from utils.lm.metrics import evaluate_model, style_accuracy, styles_for_pairs
from utils.pipeline.comment_pipeline import CommentPipeline
from utils.text.composer import OfflineComposer
from utils.text.dataset import (
    DatasetFormatError,
    read_dataset,
    read_jsonl,
    split_dataset,
    validate_comment,
    write_dataset,
)
from utils.text.labelsets import label_set_stats, sample_label_sets
from utils.text.phrases import load_bank, to_casual
from utils.text.style_check import comment_tone, sentence_endings, speech_level, style_problems
from utils.text.styles import (
    DEFAULT_STYLE,
    Style,
    all_styles,
    assign_styles,
    model_input,
    parse_style,
    parse_style_mix,
    split_model_input,
    style_list_text,
)

# --- the Style value ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("반말,유쾌한", Style("반말", "유쾌한")),
        ("casual,playful", Style("반말", "유쾌한")),
        ("Casual, Playful", Style("반말", "유쾌한")),
        ("반말 · 유쾌한", Style("반말", "유쾌한")),
        ("반말", Style("반말", "다정한")),  # a level alone keeps the default tone
        ("차분한", Style("존댓말", "차분한")),
        ("유쾌한,반말", Style("반말", "유쾌한")),
        (None, DEFAULT_STYLE),
    ],
)
def test_styles_parse_from_korean_or_english_names(text, expected):
    assert parse_style(text) == expected


@pytest.mark.parametrize("text", ["반말,시끄러운", "rude", "", "반말,존댓말", "유쾌한,차분한"])
def test_an_unknown_style_is_an_error_listing_the_known_ones(text):
    with pytest.raises(ValueError, match="known speech levels: 존댓말 \\(polite\\), 반말 \\(casual\\)") as e:
        parse_style(text)
    assert "응원하는 (cheering)" in str(e.value)


def test_eight_styles_with_korean_and_english_names_and_the_default_first():
    styles = all_styles()
    assert len(styles) == len(set(styles)) == 8
    assert styles[0] == DEFAULT_STYLE == Style("존댓말", "다정한")
    assert Style("반말", "응원하는").ko == "반말 · 응원하는"
    assert Style("반말", "응원하는").en == "casual, cheering"
    assert Style("반말", "응원하는").key == "반말,응원하는"
    listing = style_list_text().splitlines()
    assert len(listing) == 8 and "(기본 default)" in listing[0] and "차분한 — polite, calm" in listing[2]


def test_the_model_input_prefixes_every_style_but_the_default():
    assert model_input("기쁨, 안경", "반말,유쾌한") == "반말 · 유쾌한 | 기쁨, 안경"
    assert model_input("기쁨, 안경") == "기쁨, 안경"
    assert model_input("기쁨, 안경", DEFAULT_STYLE) == "기쁨, 안경"
    # an input that carries a prefix keeps it, unless another style is asked for
    assert model_input("반말 · 차분한 | 나무") == "반말 · 차분한 | 나무"
    assert model_input("반말 · 차분한 | 나무", "존댓말") == "나무"
    assert split_model_input("반말 · 유쾌한 | 기쁨, 안경") == ("기쁨, 안경", Style("반말", "유쾌한"))
    assert split_model_input("존댓말 · 다정한 | 기쁨") == ("기쁨", DEFAULT_STYLE)
    assert split_model_input("기쁨, 안경") == ("기쁨, 안경", DEFAULT_STYLE)


def test_a_style_mix_gives_exact_proportions_in_a_seeded_order():
    mix = parse_style_mix("존댓말,다정한=2; 반말,유쾌한=1; casual,calm=1")
    assert mix == {DEFAULT_STYLE: 0.5, Style("반말", "유쾌한"): 0.25, Style("반말", "차분한"): 0.25}
    styles = assign_styles(1000, mix, seed=3)
    assert Counter(styles) == {DEFAULT_STYLE: 500, Style("반말", "유쾌한"): 250, Style("반말", "차분한"): 250}
    assert styles == assign_styles(1000, mix, seed=3) and styles != assign_styles(1000, mix, seed=4)
    assert Counter(assign_styles(7, parse_style_mix("all"), seed=0)).total() == 7
    assert set(parse_style_mix("all")) == set(all_styles())


@pytest.mark.parametrize(
    ("text", "message"),
    [("반말=x", "weight 'x' is not a number"), ("반말=0", "no positive weight"), ("반말=-1", "negative")],
)
def test_a_bad_style_mix_says_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_style_mix(text)


# --- polite → casual rule table ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("polite", "casual"),
    [
        ("{obj:이} 정말 좋아요", "{obj:이} 정말 좋아"),
        ("초록빛 {obj:이} 참 예뻐요", "초록빛 {obj:이} 참 예뻐"),
        ("{obj:이} 은근히 존재감 있어요", "{obj:이} 은근히 존재감 있어"),
        ("오늘도 좋은 하루 보내세요", "오늘도 좋은 하루 보내"),
        ("그 미소 오래오래 간직하세요", "그 미소 오래오래 간직해"),
        ("맛있는 거 드세요", "맛있는 거 먹어"),
        ("가볍게 산책하며 기분 전환하세요", "가볍게 산책하며 기분 전환해"),
        ("밝은 에너지가 가득한 사진이에요", "밝은 에너지가 가득한 사진이야"),  # after a final consonant
        ("{obj:이} 깨알 같은 포인트예요", "{obj:이} 깨알 같은 포인트야"),  # after a vowel
        ("내일은 더 좋은 날이 될 거예요", "내일은 더 좋은 날이 될 거야"),
        ("행복이 뚝뚝 묻어나는 사진이네요", "행복이 뚝뚝 묻어나는 사진이네"),
        ("사진에서 행복이 느껴집니다", "사진에서 행복이 느껴진다"),
        ("좋은 기운을 잔뜩 받고 갑니다", "좋은 기운을 잔뜩 받고 간다"),
        ("웃는 얼굴에 저까지 기분이 좋아져요", "웃는 얼굴에 나까지 기분이 좋아져"),
        ("다음 사진도 기대하고 있을게요", "다음 사진도 기대하고 있을게"),
        ("좋은 기운 나눠주셔서 감사해요", None),  # honorific 시: no safe casual form
        ("따뜻한 응원 보내드려요", None),  # humble 드리다
        ("웃음 가득한 하루 되세요", "웃음 가득한 하루 보내"),
        ("감각이 정말 남다르세요", None),
        ("멋진 하루", "멋진 하루"),  # no ending: the same in both levels
    ],
)
def test_the_casual_rule_table_writes_real_casual_forms(polite, casual):
    assert to_casual(polite) == casual


def test_every_casual_bank_phrase_reads_as_casual_to_the_checker():
    banks = [load_bank(name) for name in ("openers", "closers", "objects", "generic")]
    phrases = [p for bank in banks for ps in bank.values() for p in ps]
    casual = [c for p in phrases if (c := to_casual(p))]
    assert len(casual) >= 0.95 * len(phrases)
    filled = [
        c.replace("{obj", "{").replace("{a", "{").replace("{b", "{").replace("{list", "{") for c in casual
    ]
    texts = [t.replace("{:이}", "나무가").replace("{:을}", "나무를").replace("{}", "나무") for t in filled]
    wrong = [t for t in texts if speech_level(t) not in ("반말", None)]
    assert wrong == []


def test_tone_banks_are_full_and_written_in_their_speech_level():
    styled = load_bank("styles")
    for tone in ("유쾌한", "차분한", "응원하는"):
        for level in ("존댓말", "반말"):
            bank = styled[tone][level]
            assert len(bank["openers"]) >= 15 and len(bank["closers"]) >= 10, (tone, level)
            for phrase in bank["openers"] + bank["closers"] + bank.get("soft_closers", []):
                assert speech_level(phrase + ".") == level, phrase
                assert comment_tone(phrase) == tone, phrase


# --- the style checker ---------------------------------------------------------------------

# Hand-labelled sentences: (text, speech level a Korean reader gives it; None = no telling ending).
HAND_LABELLED = [
    ("좋네요", "존댓말"),
    ("좋네", "반말"),
    ("멋지다", "반말"),
    ("멋져요", "존댓말"),
    ("보내세요", "존댓말"),
    ("보내", "반말"),
    ("입니다", "존댓말"),
    ("사진이야", "반말"),
    ("너무 귀엽잖아요", "존댓말"),
    ("너무 귀엽잖아", "반말"),
    ("안경이 잘 어울려요! 😊", "존댓말"),
    ("안경이 잘 어울려! 😊", "반말"),
    ("나무가 싱그럽다 🌳", "반말"),
    ("오늘도 화이팅이에요!!", "존댓말"),
    ("오늘도 화이팅이야!!", "반말"),
    ("좋은 하루 보내세요~", "존댓말"),
    ("좋은 하루 보내~", "반말"),
    ("감사합니다", "존댓말"),
    ("고마워!", "반말"),
    ("정말 예쁘네요.", "존댓말"),
    ("정말 예쁘구나.", "반말"),
    ("행복한 순간이 담겼어요 ✨", "존댓말"),
    ("행복한 순간이 담겼어 ✨", "반말"),
    ("늘 응원할게요", "존댓말"),
    ("오늘은 푹 쉬어요", "존댓말"),
    ("오늘은 푹 쉬어", "반말"),
    ("맛있는 거 먹어", "반말"),
    ("맛있는 거 드세요", "존댓말"),
    ("분위기가 좋은데요", "존댓말"),
    ("분위기가 좋은데", "반말"),
    ("색감이 예술이거든요", "존댓말"),
    ("색감이 예술이거든", "반말"),
    ("최고예요", "존댓말"),
    ("최고야", "반말"),
    ("잘 먹겠습니다", "존댓말"),
    ("진짜 멋있다!", "반말"),
    ("좋은 일이 있었나 봐요", "존댓말"),
    ("좋은 일이 있었나 봐", "반말"),
    ("힘내세요 💪", "존댓말"),
    ("힘내 💪", "반말"),
    ("최고! 👍", None),
    ("정말 좋아요. 근데 예쁘다!", "섞임"),
    ("잘 어울려요 🌳 나무도 예쁘다", "섞임"),
    ("좋아 😊 예뻐요", "섞임"),
]


@pytest.mark.parametrize(("text", "level"), HAND_LABELLED)
def test_the_speech_level_comes_from_the_sentence_final_endings(text, level):
    assert speech_level(text) == level


def test_the_checker_agrees_with_the_hand_labels_on_forty_sentences_or_more():
    agree = sum(speech_level(text) == level for text, level in HAND_LABELLED)
    assert len(HAND_LABELLED) >= 40 and agree == len(HAND_LABELLED)


def test_each_sentence_ending_is_reported_with_its_sentence():
    endings = sentence_endings("나무가 예뻐요! 안경도 멋지다 😎")
    assert [(e.sentence, e.level) for e in endings] == [
        ("나무가 예뻐요", "존댓말"),
        ("안경도 멋지다", "반말"),
    ]


def test_a_stray_polite_or_casual_ending_is_caught_and_named():
    casual = Style("반말", "다정한")
    assert style_problems("안경이 잘 어울려! 나무도 예뻐요. 🌳", casual) == [
        "speech level: expected 반말 (casual), found 존댓말 in '나무도 예뻐요'"
    ]
    assert style_problems("안경이 잘 어울려요! 나무가 싱그럽다. 🌳", DEFAULT_STYLE) == [
        "speech level: expected 존댓말 (polite), found 반말 in '나무가 싱그럽다'"
    ]
    assert style_problems("안경이 잘 어울려! 나무도 예뻐. 🌳", casual) == []


@pytest.mark.parametrize(
    ("text", "tone"),
    [
        ("이건 진짜 레전드 컷이에요! 😆", "유쾌한"),
        ("완전 대박 ㅋㅋ 🤣", "유쾌한"),
        ("잔잔한 분위기가 좋아요 🌙", "차분한"),
        ("오늘도 화이팅! 💪", "응원하는"),
        ("환한 미소가 정말 보기 좋아요", "다정한"),  # a warm bank phrase
        ("안경이 잘 어울려요.", None),  # nothing that tells a tone
    ],
)
def test_the_tone_comes_from_bank_phrases_or_the_lexicon(text, tone):
    assert comment_tone(text) == tone


def test_validate_comment_checks_the_style_only_when_asked():
    comment = "안경이 잘 어울려! 나무도 예뻐. 🌳"
    assert validate_comment(comment, "기쁨, 안경, 나무") == []
    assert validate_comment(comment, "기쁨, 안경, 나무", style="반말") == []
    assert validate_comment(comment, "기쁨, 안경, 나무", style="존댓말")[0].startswith(
        "speech level: expected 존댓말"
    )
    # a model input with a style prefix is read as its labels
    assert validate_comment(comment, "반말 · 다정한 | 기쁨, 안경, 나무") == []
    assert "tone: expected 차분한 (calm), reads as 유쾌한 (playful)" in validate_comment(
        "완전 대박 ㅋㅋ 안경 최고야! 😆", "안경", style="반말,차분한"
    )


# --- style-mixed data and training ----------------------------------------------------------


def test_styled_rows_round_trip_through_both_file_formats(tmp_path):
    pairs = [
        ("기쁨, 안경", "안경이 잘 어울려요! 😊"),
        (model_input("나무", "반말,차분한"), "나무가 잔잔해 보여. 🌙"),
    ]
    write_dataset(pairs, tmp_path / "rows.json")
    assert json.loads((tmp_path / "rows.json").read_text(encoding="utf-8")) == {
        "0": ["기쁨, 안경", "안경이 잘 어울려요! 😊"],
        "1": ["나무", "나무가 잔잔해 보여. 🌙", "반말,차분한"],
    }
    write_dataset(pairs, tmp_path / "rows.jsonl")
    assert read_jsonl(tmp_path / "rows.jsonl")[1] == {
        "labels": "나무",
        "comment": "나무가 잔잔해 보여. 🌙",
        "style": "반말,차분한",
    }
    assert read_dataset(tmp_path / "rows.json") == read_dataset(tmp_path / "rows.jsonl") == pairs
    (tmp_path / "bad.json").write_text(json.dumps({"0": ["나무", "좋아", "반말,시끄러운"]}), encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="bad.json: row 0: bad style '반말,시끄러운': unknown style"):
        read_dataset(tmp_path / "bad.json")


def test_a_split_keeps_a_label_set_in_one_part_in_all_its_styles():
    pairs = [
        (model_input(f"기쁨, {o}", s), "c")
        for o in ("안경", "나무", "책", "차", "꽃") * 4
        for s in all_styles()
    ]
    parts = split_dataset(pairs, val=0.2, test=0.2, seed=1)
    owner = {}
    for part, rows in parts.items():
        for source, _ in rows:
            assert owner.setdefault(split_model_input(source)[0], part) == part


def test_training_augmentations_keep_the_style_prefix():
    source = model_input("기쁨, 안경, 나무, 책", "반말,유쾌한")
    orders = with_label_orders([(source, "c")], orders=3, seed=0)
    assert len(orders) == 3 and all(s.startswith("반말 · 유쾌한 | 기쁨, ") for s, _ in orders)
    assert {frozenset(split_model_input(s)[0].split(", ")) for s, _ in orders} == {
        frozenset(["기쁨", "안경", "나무", "책"])
    }
    repeated = with_rare_objects_repeated([(source, "c"), ("기쁨, 안경", "d")], min_rows=3)
    assert repeated.count((source, "c")) == 3


@pytest.mark.parametrize("name", ["transfer_0", "gpt2_base_0"])
def test_a_model_trains_on_a_style_mixed_dataset_and_takes_a_style(name, tmp_path):
    labels = sample_label_sets(64, seed=5)
    styles = assign_styles(len(labels), parse_style_mix("all"), seed=5)
    composer = OfflineComposer(seed=1)
    pairs = [
        (model_input(lab, s), composer.compose(lab, i, s))
        for i, (lab, s) in enumerate(zip(labels, styles, strict=True))
    ]
    write_dataset(pairs, tmp_path / "mixed.json")
    summary = lm.train(
        name,
        profile="smoke",
        data=tmp_path / "mixed.json",
        out_dir=tmp_path / "run",
        epochs=1,
        progress=False,
    )
    # the smoke profile trains on at most 48 rows; the 64 split 80/10/10 by label string
    assert summary["train_examples"] >= 40 and summary["val_examples"] and summary["test_examples"]
    generator = CommentGenerator.from_pretrained(tmp_path / "run")
    # the style prefix is text the trained tokenizer reads back unchanged
    prefixed = model_input("기쁨, 안경", "반말,유쾌한")
    ids = generator.tokenizer(prefixed, add_special_tokens=False)["input_ids"]
    assert generator.tokenizer.decode(ids).strip() == prefixed
    comments = generator.generate(["기쁨, 안경", "나무"], style="반말,유쾌한", max_new_tokens=8)
    assert len(comments) == 2 and all(isinstance(c, str) for c in comments)


# --- interfaces -----------------------------------------------------------------------------


class PoliteModel:
    """Stands in for a text model trained before styles: it always writes the default style."""

    name = "t5:polite"

    def __init__(self) -> None:
        self.styles: list = []

    def generate(self, label_strings, *, style=None, **_):
        self.styles.append(style)
        return [f"{labels.split(', ')[-1]}가 정말 잘 어울려요! 😊" for labels in label_strings]


@pytest.fixture
def polite_pipeline():
    pipeline = CommentPipeline(offline=True, load_vision=False, style="반말,유쾌한")
    pipeline.generator, pipeline.comment_model = PoliteModel(), "t5:polite (test)"
    return pipeline


def test_a_model_comment_in_the_wrong_style_falls_back_to_the_composer_in_that_style(polite_pipeline):
    comments, writers = polite_pipeline.write_comments(["기쁨, 나무"])
    assert polite_pipeline.generator.styles[0] == Style("반말", "유쾌한")
    assert (
        speech_level(comments[0]) == "반말"
        and comment_tone(comments[0]) == "유쾌한"
        and "나무" in comments[0]
    )
    assert writers[0].startswith(
        "offline composer (반말 · 유쾌한; the text model's comments failed the checks: "
    )
    assert "speech level: expected 반말 (casual), found 존댓말 in '나무가 정말 잘 어울려요'" in writers[0]
    # a per-call style wins over the pipeline's: the default style keeps the model's comment
    comments, writers = polite_pipeline.write_comments(["기쁨, 나무"], style=DEFAULT_STYLE)
    assert comments == ["나무가 정말 잘 어울려요! 😊"] and writers == ["t5:polite (test)"]
    (result,) = polite_pipeline.comment_on_labels(["기쁨, 나무"], style="존댓말,차분한")
    assert speech_level(result.comment) == "존댓말" and comment_tone(result.comment) == "차분한"


def test_the_comment_command_lists_styles_and_rejects_an_unknown_one(capsys):
    assert cli.main(["comment", "--list-styles"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 8 and listing[5].startswith("반말,유쾌한") and "casual, playful" in listing[5]
    assert cli.main(["comment", "--labels", "기쁨, 안경", "--style", "반말,무뚝뚝한"]) == 2
    err = capsys.readouterr().err
    assert (
        "unknown style '반말,무뚝뚝한' (at '무뚝뚝한')" in err
        and "known tones: 다정한 (warm), 유쾌한 (playful)" in err
    )
    assert (
        cli.main(["evaluate", "models/default_t5", "--style-mix", "반말=1; 시끄러운=1", "--limit", "1"]) == 2
    )
    assert "unknown style '시끄러운'" in capsys.readouterr().err


def test_the_comment_command_writes_a_casual_comment_naming_the_objects(capsys):
    assert (
        cli.main(["comment", "--labels", "기쁨, 안경, 나무", "--style", "반말", "--json", "--offline"]) == 0
    )
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    comment = row["comment"]
    assert "안경" in comment and "나무" in comment
    assert (
        speech_level(comment) == "반말" and validate_comment(comment, "기쁨, 안경, 나무", style="반말") == []
    )
    assert "반말 · 다정한" in row["models"]["comment"]  # the writer says which style it wrote


def test_style_accuracy_is_scored_overall_and_per_style():
    comments = [
        "안경이 잘 어울려요! 😊",
        "안경 완전 대박이야 ㅋㅋ 😆",
        "안경이 잘 어울려요! 😆",
        "안경 최고! 🙂",
    ]
    styles = ["존댓말", "반말,유쾌한", "반말,유쾌한", "반말,차분한"]
    assert style_accuracy(comments, styles) == {
        "speech_level_acc": 0.5,
        "tone_acc": 0.5,
        "speech_level_acc/존댓말,다정한": 1.0,
        "tone_acc/존댓말,다정한": 1.0,
        "speech_level_acc/반말,유쾌한": 0.5,
        "tone_acc/반말,유쾌한": 0.5,
        "speech_level_acc/반말,차분한": 0.0,
        "tone_acc/반말,차분한": 0.0,
    }
    with pytest.raises(ValueError, match="2 comments but 1 styles"):
        style_accuracy(comments[:2], styles[:1])


def test_evaluate_asks_the_model_for_each_style_and_scores_it(tmp_path):
    class Echo(CommentGenerator):
        """A model that writes a casual comment only when its input asks for 반말."""

        def __init__(self) -> None:
            self.name = "echo"

        def generate(self, inputs, **_):
            return ["나무 좋다! 🌳" if i.startswith("반말") else "나무가 좋아요! 🌳" for i in inputs]

    pairs = [("기쁨, 나무", "나무가 좋아요! 🌳")] * 8
    styles = styles_for_pairs(pairs, None, "존댓말=1; 반말=1", seed=0)
    assert Counter(styles) == {DEFAULT_STYLE: 4, Style("반말", "다정한"): 4}
    scores, comments = evaluate_model(Echo(), pairs, styles=styles)
    assert scores["speech_level_acc"] == 1.0 and scores["speech_level_acc/반말,다정한"] == 1.0
    assert comments.count("나무 좋다! 🌳") == 4
    assert styles_for_pairs(pairs, None, None, seed=0) is None  # default-style data: no style scores
    styled = [(model_input("나무", "반말"), "c")]
    assert styles_for_pairs(styled, None, None, seed=0) == [Style("반말", "다정한")]


def test_a_styled_test_row_is_asked_in_its_style_and_scored_on_its_bare_labels():
    class Echo(CommentGenerator):
        """Names the labels after the style prefix, casually when asked for 반말."""

        def __init__(self) -> None:
            self.name = "echo"
            self.inputs: list[str] = []

        def generate(self, inputs, **_):
            self.inputs += inputs
            out = []
            for source in inputs:
                labels, style = split_model_input(source)
                objects = labels.split(", ")[1:]
                out.append(
                    f"{'와 '.join(objects)} 좋다! 🌳" if style.level == "반말" else f"{objects[0]} 좋아요! 🌳"
                )
            return out

    pairs = [(model_input("기쁨, 나무, 안경", "반말,유쾌한"), "r"), ("기쁨, 나무", "r")]
    echo = Echo()
    scores, comments = evaluate_model(echo, pairs, styles=styles_for_pairs(pairs, None, None, seed=0))
    assert echo.inputs == ["반말 · 유쾌한 | 기쁨, 나무, 안경", "기쁨, 나무"]
    assert comments == ["나무와 안경 좋다! 🌳", "나무 좋아요! 🌳"]
    assert scores["label_coverage"] == 1.0  # the prefix is not a label the comment must name
    assert scores["speech_level_acc/반말,유쾌한"] == 1.0
    stats = label_set_stats([source for source, _ in pairs])
    assert stats["occurrences"] == {"나무": 2, "기쁨": 2, "안경": 1} and stats["share_with_emotion"] == 1.0


def test_the_warm_default_tone_is_not_checked_but_other_tones_must_show():
    cheering = "오늘도 응원할게요! 힘내세요 💪"
    assert comment_tone(cheering) == "응원하는"
    assert validate_comment(cheering, "슬픔", style=DEFAULT_STYLE) == []
    assert validate_comment(cheering, "슬픔", style="존댓말,응원하는") == []
    assert validate_comment(cheering, "슬픔", style="존댓말,차분한") == [
        "tone: expected 차분한 (calm), reads as 응원하는 (cheering)"
    ]
    assert validate_comment("안경이 잘 어울려요! 😊", "기쁨, 안경", style="존댓말,유쾌한") == [
        "tone: expected 유쾌한 (playful), but nothing in it has that tone"
    ]
