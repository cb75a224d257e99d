"""Tests of the text plugin: vocabulary, the ``sequences`` domain and the ``text_file`` data set."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest
import torch
from pydantic import ValidationError

from structgen import DataError
from structgen.cli import main
from structgen.config import ComponentConfig
from structgen.context import BuildContext
from structgen_text.domain import SequenceDomain, SequenceParams, build_sequence_domain
from structgen_text.text_file import TextFileParams, build_text_file
from structgen_text.vocabulary import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocabulary

matplotlib.use("Agg")

CORPUS = ["the cat sat", "the dog sat", "a cat ran"]
LINES = [f"line {index} says {'ab' * (index % 4)}" for index in range(20)]


def character_domain(max_length: int = 8) -> SequenceDomain:
    return SequenceDomain(Vocabulary.build(["abcab", "cab"], "character"), max_length)


def write_text(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_text_file(path: Path, registry, **params) -> object:
    context = BuildContext(registry=registry, device=torch.device("cpu"))
    return build_text_file(TextFileParams(path=str(path), **params), context)


# Vocabulary


def test_vocabulary_orders_by_frequency_then_token():
    vocabulary = Vocabulary.build(CORPUS, "word")

    assert vocabulary.tokens[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert vocabulary.tokens[4:] == ["cat", "sat", "the", "a", "dog", "ran"]


def test_vocabulary_word_round_trip():
    vocabulary = Vocabulary.build(CORPUS, "word")

    ids = vocabulary.encode("the  dog\tran")

    assert ids == [vocabulary.ordinary_ids[word] for word in ["the", "dog", "ran"]]
    assert vocabulary.decode(ids) == "the dog ran"


def test_vocabulary_character_round_trip():
    vocabulary = Vocabulary.build(["héllo wörld"], "character")

    ids = vocabulary.encode("wörld héllo")

    assert vocabulary.decode(ids) == "wörld héllo"
    assert len(ids) == len("wörld héllo")


def test_vocabulary_unknown_tokens():
    words = Vocabulary.build(CORPUS, "word")
    characters = Vocabulary.build(["abc"], "character")

    assert words.encode("the bird sat") == [words.ordinary_ids["the"], UNK_ID, words.ordinary_ids["sat"]]
    assert words.decode(words.encode("the bird")) == "the <unk>"
    assert characters.encode("axb") == [characters.ordinary_ids["a"], UNK_ID, characters.ordinary_ids["b"]]


def test_vocabulary_special_spelling_is_unknown():
    vocabulary = Vocabulary.build(["a <eos> b"], "word")

    assert "<eos>" not in vocabulary.ordinary_ids
    assert vocabulary.encode("a <eos> b")[1] == UNK_ID


def test_vocabulary_decode_stops_and_skips():
    vocabulary = Vocabulary.build(["ab"], "character")
    a, b = vocabulary.ordinary_ids["a"], vocabulary.ordinary_ids["b"]

    assert vocabulary.decode([BOS_ID, a, PAD_ID, b, EOS_ID, a, a]) == "ab"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocabulary.decode([a, 99])


def test_vocabulary_dict_round_trip():
    vocabulary = Vocabulary.build(CORPUS, "word")

    stored = json.loads(json.dumps(vocabulary.to_dict()))

    assert Vocabulary.from_dict(stored) == vocabulary


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"level": "word"}, "exactly the keys"),
        ({"level": "word", "tokens": ["a", 3]}, "non-empty strings"),
        ({"level": "word", "tokens": ["a", "<pad>"]}, "special tokens"),
        ({"level": "word", "tokens": ["a", "a"]}, "unique"),
        ({"level": "byte", "tokens": ["a"]}, "level must be one of"),
    ],
)
def test_vocabulary_from_dict_rejects(values, message):
    with pytest.raises(ValueError, match=message):
        Vocabulary.from_dict(values)


# Domain


def test_domain_round_trip():
    domain = character_domain()
    texts = ["abc", "", "cabcabca", "bxa"]

    batch = domain.from_user(texts)

    assert batch.shape == (4, 8)
    assert batch.dtype == torch.long
    assert domain.to_user(batch) == ["abc", "", "cabcabca", "b<unk>a"]


def test_domain_layout():
    domain = character_domain(max_length=5)
    a = domain.vocabulary.ordinary_ids["a"]

    batch = domain.from_user(["aa", "aaaaa", ""])

    assert batch[0].tolist() == [a, a, EOS_ID, PAD_ID, PAD_ID]
    assert batch[1].tolist() == [a] * 5
    assert batch[2].tolist() == [EOS_ID] + [PAD_ID] * 4
    assert domain.event_shape == (5,)
    assert domain.is_discrete
    assert domain.num_categories == 7


def test_domain_mask():
    domain = character_domain(max_length=5)

    mask = domain.mask(domain.from_user(["aa", "aaaaa", ""]))

    assert mask[0].tolist() == [True, True, True, False, False]
    assert mask[1].tolist() == [True] * 5
    assert mask[2].tolist() == [True, False, False, False, False]
    assert mask.dtype == torch.bool


def test_domain_random_batch_is_valid():
    domain = character_domain(max_length=6)
    generator = torch.Generator().manual_seed(0)

    batch = domain.random_batch(500, generator=generator)

    domain.validate(batch)
    lengths = domain.mask(batch).sum(dim=1)
    assert batch.shape == (500, 6)
    assert batch.dtype == torch.long
    assert set(lengths.tolist()) == set(range(1, 7))
    assert not (batch == UNK_ID).any()


def test_domain_harden_relaxed_one_hots():
    domain = character_domain(max_length=4)
    batch = domain.from_user(["ab", "c"])
    relaxed = torch.nn.functional.one_hot(batch, domain.num_categories).float()

    assert torch.equal(domain.harden(relaxed), batch)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (torch.zeros(2, 5, dtype=torch.long), r"shape \(n, 4\), got \(2, 5\)"),
        (torch.zeros(4, dtype=torch.long), r"shape \(n, 4\), got \(4,\)"),
        (torch.full((2, 4), 4.0), "dtype int64, got torch.float32"),
        (torch.zeros(0, 4, dtype=torch.long), "contains no sequences"),
        (torch.tensor([[4, EOS_ID, 0, 0], [4, 7, 0, 0]]), r"outside \[0, 7\).*first rows \[1\]"),
        (torch.tensor([[4, 4, 4, 4], [-1, 4, 4, 4]]), r"outside \[0, 7\).*first rows \[1\]"),
        (torch.tensor([[BOS_ID, 4, EOS_ID, 0]]), r"<bos>.*first rows \[0\]"),
        (
            torch.tensor([[4, 4, EOS_ID, 0], [4, PAD_ID, 4, EOS_ID], [PAD_ID] * 4]),
            r"2 row\(s\) contain <pad>.*\[1, 2\]",
        ),
        (torch.tensor([[4, EOS_ID, 4, 0]]), r"tokens after their <eos>.*first rows \[0\]"),
        (torch.tensor([[4, EOS_ID, EOS_ID, 0]]), r"tokens after their <eos>"),
    ],
)
def test_domain_validate_rejects(batch, message):
    domain = character_domain(max_length=4)

    with pytest.raises(DataError, match=message):
        domain.validate(batch, source="samples")


def test_domain_validate_names_source():
    with pytest.raises(DataError, match="^samples: "):
        character_domain(max_length=4).validate(torch.zeros(1, 3, dtype=torch.long), source="samples")


def test_domain_from_user_rejects_long_text():
    domain = character_domain(max_length=4)

    with pytest.raises(DataError, match="line 2 has 5 character tokens, more than max_length 4"):
        domain.from_user(["ab", "abcab"])


def test_domain_from_user_rejects_non_string():
    with pytest.raises(DataError, match="line 1 is a list, not a str"):
        character_domain().from_user([["a", "b"]])


def test_domain_draw_writes_texts():
    from matplotlib.figure import Figure

    domain = SequenceDomain(Vocabulary.build(["abc$"], "character"), 8)
    axes = Figure().add_subplot()

    domain.draw(domain.from_user(["abc", "c$b"]), axes, title="samples")

    assert axes.texts[0].get_text() == "abc\nc\\$b"
    assert axes.get_title() == "samples"


def test_domain_spec_round_trip(registry):
    domain = SequenceDomain(Vocabulary.build(CORPUS, "word"), 5)
    texts = ["the cat ran", "a dog", "bird"]

    spec = json.loads(json.dumps(domain.spec()))
    context = BuildContext(registry=registry, device=torch.device("cpu"))
    rebuilt = context.build("domain", ComponentConfig.model_validate(spec))

    assert spec["name"] == "sequences"
    assert spec["level"] == "word"
    assert rebuilt.vocabulary == domain.vocabulary
    assert rebuilt.max_length == 5
    assert torch.equal(rebuilt.from_user(texts), domain.from_user(texts))


def test_sequence_params_reject_bad_vocabulary():
    vocabulary = Vocabulary.build(CORPUS, "word").to_dict()

    with pytest.raises(ValidationError, match="the vocabulary's level is 'word'"):
        SequenceParams(max_length=4, level="character", vocabulary=vocabulary)
    with pytest.raises(ValidationError, match="no ordinary tokens"):
        SequenceParams(max_length=4, level="word", vocabulary={"level": "word", "tokens": []})


# The text_file data set


def test_text_file_splits(tmp_path, registry):
    path = write_text(tmp_path / "lines.txt", LINES[:10] + ["", "   "] + LINES[10:])

    data = load_text_file(path, registry, max_length=20)

    assert (len(data.train), len(data.validation), len(data.test)) == (16, 2, 2)
    assert [metric["name"] for metric in data.info["metrics"]] == ["bleu", "self_bleu", "uniqueness", "novelty"]
    decoded = data.domain.to_user(torch.cat([data.train.x, data.validation.x, data.test.x]))
    assert sorted(decoded) == sorted(LINES)
    data.domain.validate(data.train.x)


def test_text_file_split_seed(tmp_path, registry):
    path = write_text(tmp_path / "lines.txt", LINES)

    first = load_text_file(path, registry, max_length=20, split_seed=1)
    again = load_text_file(path, registry, max_length=20, split_seed=1)
    other = load_text_file(path, registry, max_length=20, split_seed=2)

    assert torch.equal(first.test.x, again.test.x)
    assert not torch.equal(first.train.x, other.train.x)


def test_text_file_vocabulary_covers_all_lines(tmp_path, registry):
    path = write_text(tmp_path / "words.txt", LINES)

    data = load_text_file(path, registry, level="word", max_length=4)

    assert data.domain.level == "word"
    assert not (data.test.x == UNK_ID).any()
    assert not (data.validation.x == UNK_ID).any()
    assert data.domain.vocabulary == Vocabulary.build(LINES, "word")


def test_text_file_spec_round_trip(tmp_path, registry):
    path = write_text(tmp_path / "lines.txt", LINES)
    data = load_text_file(path, registry, max_length=20)

    spec = json.loads(json.dumps(data.domain.spec()))
    params = SequenceParams.model_validate({key: value for key, value in spec.items() if key != "name"})
    rebuilt = build_sequence_domain(params, None)

    assert spec["max_length"] == 20
    assert torch.equal(rebuilt.from_user(LINES), data.domain.from_user(LINES))


def test_text_file_windows_line_endings_and_bom(tmp_path, registry):
    path = tmp_path / "windows.txt"
    path.write_bytes(("\ufeff" + "\r\n".join(LINES)).encode("utf-8"))

    data = load_text_file(path, registry, max_length=20)

    decoded = data.domain.to_user(torch.cat([data.train.x, data.validation.x, data.test.x]))
    assert sorted(decoded) == sorted(LINES)


def test_text_file_missing(tmp_path, registry):
    with pytest.raises(DataError, match="absent.txt: file not found"):
        load_text_file(tmp_path / "absent.txt", registry)


@pytest.mark.parametrize("content", ["", "\n\n", "  \n\t\n"])
def test_text_file_empty(tmp_path, registry, content):
    path = tmp_path / "empty.txt"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(DataError, match="empty.txt: the file is empty or contains only blank lines"):
        load_text_file(path, registry)


def test_text_file_invalid_utf8(tmp_path, registry):
    path = tmp_path / "latin1.txt"
    path.write_bytes("first\nsecond\ncaf\u00e9\n".encode("latin-1"))

    with pytest.raises(DataError, match="latin1.txt: line 3 is not valid UTF-8.*save the file as UTF-8"):
        load_text_file(path, registry)


def test_text_file_line_too_long(tmp_path, registry):
    path = write_text(tmp_path / "long.txt", ["short", "", "much too long"])

    with pytest.raises(DataError, match="long.txt: line 3 has 13 character tokens.*raise max_length to at least 13"):
        load_text_file(path, registry, max_length=8)


def test_text_file_too_few_lines(tmp_path, registry):
    path = write_text(tmp_path / "two.txt", ["one", "two"])

    with pytest.raises(DataError, match="two.txt: 2 non-blank line\\(s\\) are too few to split"):
        load_text_file(path, registry)


def test_text_file_params_reject_fractions():
    with pytest.raises(ValidationError, match="must be below 1"):
        TextFileParams(path="lines.txt", validation_fraction=0.5, test_fraction=0.5)


def test_plugins_json_lists_text_components(capsys):
    assert main(["plugins", "--json"]) == 0

    entries = json.loads(capsys.readouterr().out)
    plugins = {f"{entry['kind']}:{entry['name']}": entry["plugin"] for entry in entries}
    assert plugins["domain:sequences"] == "structgen_text"
    assert plugins["dataset:text_file"] == "structgen_text"
