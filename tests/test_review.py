"""The blind review: a shuffled sheet with the key kept apart, and scores of filled-in ratings."""

import json

import pytest

from utils import __main__ as cli
from utils.pipeline.review import make_sheet, read_ratings, score, score_folder


def fake_writer(tag):
    return lambda label_strings: [f"{tag}: {labels}에 대한 댓글이에요! ✨" for labels in label_strings]


def test_the_sheet_hides_the_writer_and_the_key_names_it(tmp_path):
    sets = {"everyday": ["사람", "나무, 건물", "고양이"], "test": ["기쁨, 안경"]}
    paths = make_sheet(sets, {"alpha": fake_writer("A"), "beta": fake_writer("B")}, tmp_path, seed=3)
    lines = paths["sheet"].read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id\tlabels\tcomment" and len(lines) == 1 + 4 * 2
    key = json.loads(paths["key"].read_text(encoding="utf-8"))
    assert len(key) == 8 and {v["writer"] for v in key.values()} == {"alpha", "beta"}
    for line in lines[1:]:
        line_id, labels, comment = line.split("\t")
        assert "alpha" not in line and "beta" not in line  # the sheet never names a writer
        assert labels == f"[{key[line_id]['labels']}]" and comment == key[line_id]["comment"]
    order = [key[line.split("\t")[0]]["writer"] for line in lines[1:]]
    assert order != sorted(order)  # shuffled
    assert "nat (1-5)" in paths["rater"].read_text(encoding="utf-8")


def test_scores_per_writer_per_rater_and_where_all_say_yes(tmp_path):
    key = {
        "c0": {"writer": "a", "kind": "everyday", "labels": "사람", "comment": "x"},
        "c1": {"writer": "a", "kind": "test", "labels": "나무", "comment": "y"},
        "c2": {"writer": "b", "kind": "everyday", "labels": "사람", "comment": "z"},
    }
    (tmp_path / "key.json").write_text(json.dumps(key), encoding="utf-8")
    (tmp_path / "ratings_one.tsv").write_text(
        "id\tnat\tfaith\tpost\tflags\tnote\nc0\t5\t5\ty\t\t\nc1\t4\t2\tn\tHALLUCINATION\tsmile\nc2\t2\t3\tn\tNONSENSE,ODDLABEL\t\n",
        encoding="utf-8",
    )
    (tmp_path / "ratings_two.tsv").write_text(
        "c0\t4\t5\ty\t\t\nc1\t5\t4\ty\t\t\nc2\t1\t1\tn\tHALLUCINATION\t\n", encoding="utf-8"
    )
    scores = score_folder(tmp_path)
    assert scores["a"]["post"] == {"one": 0.5, "two": 1.0} and scores["a"]["post_all"] == 0.5
    assert scores["a"]["nat"] == 4.5 and scores["a"]["faith"] == 4.0
    assert scores["b"]["flags"] == {"NONSENSE": 1, "ODDLABEL": 1, "HALLUCINATION": 1}
    assert scores["a · test"]["lines"] == 1 and scores["b"]["worst"][0]["id"] == "c2"
    assert "| a | 2 | 4.50 | 4.00 | 0.500 | 1.000 | 0.500 |" in (tmp_path / "scores.md").read_text(
        encoding="utf-8"
    )


def test_a_pipeline_writer_keys_who_wrote_each_line_and_scores_them_apart(tmp_path):
    def pipeline_like(label_strings):
        pipeline_like.by = [
            "t5:x" if "사람" in labels else "offline composer (…)" for labels in label_strings
        ]
        return fake_writer("P")(label_strings)

    paths = make_sheet({"everyday": ["사람", "나무"]}, {"t5": pipeline_like, "c": fake_writer("C")}, tmp_path)
    key = json.loads(paths["key"].read_text(encoding="utf-8"))
    assert {(v["writer"], v["labels"], v.get("by")) for v in key.values()} == {
        ("t5", "사람", "t5:x"),
        ("t5", "나무", "offline composer (…)"),
        ("c", "사람", None),
        ("c", "나무", None),
    }
    marks = {i: {"nat": 5, "faith": 5, "post": v["labels"] == "사람", "flags": []} for i, v in key.items()}
    scores = score(key, {"r": marks})
    assert scores["t5 · by the model"]["post"] == {"r": 1.0} and scores["t5 · by the composer"]["post"] == {
        "r": 0.0
    }
    assert "c · by the model" not in scores


def test_bad_ratings_are_named(tmp_path):
    bad = tmp_path / "ratings_x.tsv"
    bad.write_text("c0\t7\t5\ty\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ratings_x.tsv, line 1: nat and faith are 1-5"):
        read_ratings(bad)
    key = {
        "c0": {"writer": "a", "kind": "k", "labels": "l", "comment": "c"},
        "c1": {"writer": "a", "kind": "k", "labels": "l", "comment": "c"},
    }
    with pytest.raises(ValueError, match="rater r left 1 lines unrated, e.g. c1"):
        score(key, {"r": {"c0": {"nat": 5, "faith": 5, "post": True, "flags": []}}})


def test_review_command_makes_a_sheet_from_the_composer(tmp_path, capsys):
    sets = tmp_path / "sets.json"
    sets.write_text(
        json.dumps({"everyday": ["사람", "강아지, 자전거"]}, ensure_ascii=False), encoding="utf-8"
    )
    assert (
        cli.main(
            ["review", "sheet", "--sets", str(sets), "--writers", "composer", "--out", str(tmp_path / "r")]
        )
        == 0
    )
    assert len((tmp_path / "r" / "sheet.tsv").read_text(encoding="utf-8").splitlines()) == 3
    assert (
        cli.main(["review", "sheet", "--sets", str(sets), "--writers", "gpt2", "--out", str(tmp_path)]) == 2
    )
    assert "the gpt2 writer needs --gpt2 RUN_DIR" in capsys.readouterr().err
