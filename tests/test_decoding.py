"""Decoding options, n-best re-ranking and the label guide, on tiny local models (no training)."""

from __future__ import annotations

import json

import pytest
import torch

from utils import __main__ as cli
from utils.lm import training as lm
from utils.lm.data import train_local_tokenizer
from utils.lm.decoding import DECODINGS, DEFAULT_DECODING, Decoding, candidate_order, get_decoding, pick_best
from utils.lm.generate import MODEL_INFO_FILE, CommentGenerator
from utils.lm.registry import get_experiment
from utils.paths import ROOT
from utils.pipeline.comment_pipeline import CommentPipeline
from utils.text.dataset import read_dataset, write_dataset

PAIRS = read_dataset(ROOT / "data" / "text_data" / "comments_val.json")[:200]
LABELS = ["기쁨, 안경, 나무", "슬픔, 돌고래", "분노", "공포, 재킷, 차, 책"]


def _tiny_model(folder, family: str, seed: int = 0):
    """An untrained smoke-size model (weights drawn with ``seed``) with a tokenizer trained on our
    comments, saved as training saves it."""
    tokenizer = train_local_tokenizer([t for p in PAIRS for t in p], family, folder, 400)
    experiment = get_experiment("transfer_0" if family == "t5" else "kogpt2_0")
    torch.manual_seed(seed)
    lm.build_model(experiment, "smoke", tokenizer).save_pretrained(folder)
    info = {"experiment": experiment.name, "family": family, "data_format": experiment.data_format}
    (folder / MODEL_INFO_FILE).write_text(json.dumps(info), encoding="utf-8")
    return folder


@pytest.fixture(scope="module", params=["t5", "gpt2"])
def generator(request, tmp_path_factory):
    folder = _tiny_model(tmp_path_factory.mktemp(request.param), request.param)
    return CommentGenerator.from_pretrained(folder, device="cpu")


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory):
    return _tiny_model(tmp_path_factory.mktemp("t5_cli"), "t5")


def test_every_named_decoding_runs_and_the_default_is_one_of_them(generator):
    assert DEFAULT_DECODING in DECODINGS and get_decoding(None).name == DEFAULT_DECODING
    for name in DECODINGS:
        comments = generator.generate(LABELS, decoding=name, max_new_tokens=12, batch_size=3)
        assert len(comments) == len(LABELS) and all(isinstance(c, str) for c in comments), name


def test_each_mode_passes_its_settings_to_generate(generator, monkeypatch):
    calls = []
    real = generator.model.generate

    def spy(**kwargs):
        calls.append({k: v for k, v in kwargs.items() if k not in ("input_ids", "attention_mask")})
        return real(**kwargs)

    monkeypatch.setattr(generator.model, "generate", spy)
    generator.generate(LABELS[:1], decoding="greedy", max_new_tokens=4)
    generator.generate(LABELS[:1], decoding="beam", max_new_tokens=4, length_penalty=1.5)
    generator.generate(LABELS[:1], decoding="sample", max_new_tokens=4, temperature=0.7)
    greedy, beam, sample = calls
    assert greedy["num_beams"] == 1 and greedy["do_sample"] is False and "top_p" not in greedy
    assert beam["num_beams"] == 4 and beam["length_penalty"] == 1.5 and beam["no_repeat_ngram_size"] == 3
    assert sample["do_sample"] is True and (sample["top_k"], sample["top_p"], sample["temperature"]) == (
        50,
        0.95,
        0.7,
    )


def test_greedy_ignores_the_seed_and_sampling_follows_it(generator):
    greedy = [generator.generate(LABELS, decoding="greedy", seed=s, max_new_tokens=12) for s in (1, 2)]
    assert greedy[0] == greedy[1]
    sampled = [generator.generate(LABELS, decoding="sample", seed=s, max_new_tokens=12) for s in (1, 2, 1)]
    assert sampled[0] == sampled[2] and sampled[0] != sampled[1]
    assert sampled[0] != greedy[0]


def test_the_label_guide_names_every_object(generator):
    guided = Decoding("guided", guided=True, no_repeat_ngram_size=3)
    labels = ["기쁨, 돌고래, 안경", "슬픔, 재킷, 차, 책"]
    for text, comment in zip(
        labels, generator.generate(labels, decoding=guided, max_new_tokens=24), strict=True
    ):
        assert candidate_order(comment, text, 0.0)[1] == -1.0, comment  # every object named
    plain = generator.generate(labels, decoding="greedy", max_new_tokens=24)
    assert any(candidate_order(c, t, 0.0)[1] > -1.0 for c, t in zip(plain, labels, strict=True))


def test_the_guide_puts_in_the_subjects_and_leaves_the_table_and_bottle_beside_them(generator):
    from utils.lm.generate import LabelGuide

    guide = LabelGuide(generator.tokenizer, ["와인, 병, 테이블", "의자, 테이블"], start=1, bias=10.0)
    assert guide.objects == [["와인", "병", "테이블"], ["의자", "테이블"]]  # all checked for glue
    assert guide.required == [["와인"], ["의자", "테이블"]]  # furniture alone is the subject
    guided = Decoding("guided", guided=True, no_repeat_ngram_size=3)
    for comment in generator.generate(["와인, 병, 테이블"], decoding=guided, max_new_tokens=24):
        assert "와인" in comment, comment


def test_a_sampling_retry_gets_another_guided_candidate():
    sampled = Decoding("guided", guided=True, no_repeat_ngram_size=3, do_sample=True, top_p=0.95)
    assert sampled.guided_kwargs()["do_sample"] is True and sampled.guided_kwargs()["num_beams"] == 1
    plain = get_decoding("guided").guided_kwargs()
    assert plain["do_sample"] is False and plain["num_beams"] == 4 and plain["no_repeat_ngram_size"] == 3


def test_rerank_prefers_a_valid_comment_over_a_likelier_invalid_one():
    labels = "기쁨, 안경, 나무"
    candidates = [
        "안경이 멋져요 😊",
        "안경도 나무도 멋져요 😊",
        "안경과 나무 어때요? 😊",
        "안경과 나무가 멋져요 😊",
    ]
    scores = [-0.1, -2.0, -0.2, -1.0]
    # the likeliest misses 나무, the second asks a question: the likeliest valid one wins
    assert pick_best(candidates, labels, scores) == 3
    # with no valid candidate, naming more objects comes before the model's score
    assert pick_best(candidates[:1] + ["안경 나무"], labels, [-0.1, -3.0]) == 1
    with pytest.raises(ValueError, match="2 candidates and 1 scores"):
        pick_best(candidates[:2], labels, [0.0])


def test_the_generator_reranks_its_candidates_by_checks_then_score(generator, monkeypatch):
    pools = [["안경이 멋져요 😊", "안경과 나무가 멋져요 😊"], ["재킷이 멋져요 🧥"]]
    scores = {"안경이 멋져요 😊": -0.1, "안경과 나무가 멋져요 😊": -1.5, "재킷이 멋져요 🧥": -0.3}
    monkeypatch.setattr(generator, "candidates", lambda batch, decoding, *a, **k: pools[: len(batch)])
    monkeypatch.setattr(generator, "score", lambda labels, comments: [scores.get(c, -9.0) for c in comments])
    rerank = Decoding("n-best", num_beams=2, candidates=2)
    assert generator.generate(["기쁨, 안경, 나무", "슬픔, 재킷"], decoding=rerank) == [
        pools[0][1],
        pools[1][0],
    ]


def test_scores_are_mean_token_log_probabilities(generator):
    labels, comment = "기쁨, 안경", "안경이 정말 잘 어울리세요 😊"
    (score,) = generator.score([labels], [comment])
    assert score < 0
    # a batch with a longer neighbour (padding) gives the same score
    assert generator.score([labels, "나무"], [comment, comment + " 오늘도 좋은 하루 보내세요 🌳"])[
        0
    ] == pytest.approx(score, abs=1e-4)


def test_bad_decodings_are_refused_with_their_name():
    with pytest.raises(ValueError, match="unknown decoding 'fastest'"):
        get_decoding("fastest")
    with pytest.raises(ValueError, match="8 candidates need at least as many beams"):
        Decoding("broken", num_beams=2, candidates=8)


def test_evaluate_compares_decodings_and_records_them(t5_dir, tmp_path, capsys):
    data = tmp_path / "pairs.json"
    write_dataset(PAIRS[:3], data)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"runs": {"transfer_0": {"chrf": 0.1}}}), encoding="utf-8")
    argv = ["evaluate", str(t5_dir), "--data", str(data), "--decoding", "greedy", "--decoding", "beam"]
    assert cli.main([*argv, "--num-beams", "2", "--json", "--record", str(metrics)]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores["pairs"]) == {"greedy", "beam"}
    assert scores["pairs"]["beam"]["decoding"] == "beam" and scores["pairs"]["beam"]["count"] == 3
    assert scores["pairs"]["greedy"]["ms_per_comment"] > 0
    recorded = json.loads(metrics.read_text(encoding="utf-8"))
    assert recorded["runs"] == {"transfer_0": {"chrf": 0.1}}  # kept
    assert recorded["decoding"]["splits"] == scores


def test_evaluate_scores_the_generalisation_split_with_the_default_decoding(t5_dir, capsys):
    assert cli.main(["evaluate", str(t5_dir), "--split", "general", "--limit", "2", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["count"] == 2 and scores["decoding"] == DEFAULT_DECODING
    assert cli.main(["evaluate", str(t5_dir), "--data", "missing.json"]) == 2
    assert "dataset file not found: missing.json" in capsys.readouterr().err


def test_comment_cli_takes_decoding_options(t5_dir, capsys):
    argv = ["comment", "--labels", "기쁨, 안경", "--lm", str(t5_dir), "--offline", "--json"]
    assert cli.main([*argv, "--decoding", "beam", "--num-beams", "2", "--no-repeat-ngram", "2"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["labels"] == "기쁨, 안경" and row["comment"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--decoding", "fastest"])
    assert exit_info.value.code == 2 and "invalid choice: 'fastest'" in capsys.readouterr().err


def test_the_pipeline_writes_with_its_decoding(t5_dir, monkeypatch):
    used = []
    pipeline = CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False, decoding="greedy")
    real = pipeline.generator.generate

    def spy(labels, **kwargs):
        used.append(kwargs.get("decoding"))
        return real(labels, **kwargs)

    monkeypatch.setattr(pipeline.generator, "generate", spy)
    comments, writers = pipeline.write_comments(["기쁨, 안경"])
    assert len(comments) == 1 and used and set(used) == {"greedy"}
    assert CommentPipeline(lm_dir=t5_dir, offline=True, load_vision=False).decoding is None  # the default


def test_the_guide_starts_a_label_only_where_a_phrase_can_start():
    from utils.lm.generate import LabelGuide

    tokenizer = CommentGenerator.from_pretrained(ROOT / "models" / "default_t5", device="cpu").tokenizer
    guide = LabelGuide(tokenizer, ["기쁨, 핫도그, 초밥", "핫도그, 초밥"], start=1, bias=10.0)
    objects = ["핫도그", "초밥"]
    assert guide.emotional == [True, False]
    assert not guide._may_start_label("", objects, emotional=True)  # the mood opens
    assert guide._may_start_label("", objects, emotional=False)
    assert guide._may_start_label("정말 신나 보여요! 🥰", objects, emotional=True)
    assert guide._may_start_label("맛있겠어요.", objects, emotional=True)
    assert guide._may_start_label("핫도그와", objects, emotional=True)  # a list the model began
    assert guide._may_start_label("핫도그,", objects, emotional=True)
    assert not guide._may_start_label("핫도그가", objects, emotional=True)  # mid-clause: "핫도그가 초밥이 …"
    assert not guide._may_start_label("정말 신나", objects, emotional=False)
    # a person's phrase only at a sentence start after the opener, never after another label's joiner
    assert not guide._may_start_person("사람", "")
    assert not guide._may_start_person("사람", "정말 신나 보여요! 🥰 나무와")
    assert guide._may_start_person("사람", "정말 신나 보여요! 🥰")
    assert guide._may_start_person("나무", "")  # other labels as before


def test_a_label_the_guide_started_is_not_glued_to_the_next_word():
    from utils.lm.generate import LabelGuide, tokens_not_after_label

    tokenizer = CommentGenerator.from_pretrained(ROOT / "models" / "default_t5", device="cpu").tokenizer
    glued, not_a_word = map(set, tokens_not_after_label(tokenizer))
    piece = {p: i for i, p in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer)))))}
    assert piece["가"] not in glued and piece["를"] not in glued  # particles may follow a label
    assert any(p in piece and piece[p] in glued for p in ("런", "볍게", "어디든", "요"))
    new_hangul_word = [i for p, i in piece.items() if p.startswith("\u2581") and "가" <= p[1:2] <= "힣"]
    assert all(i not in glued for i in new_hangul_word)
    # an emoji or a stop right after the label would leave it as a fragment ("선글라스 🥰", "기린.")
    assert all(piece[p] in glued for p in (".", "!", "\u2581.", "\u2581🥰", "\u2581✨") if p in piece)
    assert sum(p in piece for p in (".", "!", "\u2581.", "\u2581🥰", "\u2581✨")) >= 2
    assert piece["가"] in not_a_word
    assert all(
        i not in not_a_word for p, i in piece.items() if p.startswith("\u2581") and "가" <= p[1:2] <= "힣"
    )
    guide = LabelGuide(tokenizer, ["스키, 헬멧"], start=1, bias=10.0)
    objects = ["스키", "헬멧"]
    assert guide._just_started("힘내요! 스키", objects) == "label"
    assert guide._just_started("힘내요! 스키가", objects) == "particle"
    assert guide._just_started("힘내요! 스키가 멋져요", objects) is None
    assert guide._just_started("스키가 좋아요. 스키", objects) is None  # named before: the model's own
