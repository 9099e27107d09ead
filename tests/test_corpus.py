"""The story generator, its labels, the file and Hugging Face loaders, and the tokenizer's label mapping."""

import importlib
import os
import sys
import types

import pytest
import torch

import sae_kit as sk
from sae_kit.lm.corpus import LATENTS, CorpusConfig, generate_stories, load_hf_dataset, load_text_file, train_tokenizer


def optional_library(name: str):
    """The optional library `name`, or a skip where it is not installed. CI installs the extras (`make interop-test`)
    and sets SAE_KIT_REQUIRE_INTEROP=1, which turns a missing library into a failure: nothing is skipped there."""
    if os.environ.get("SAE_KIT_REQUIRE_INTEROP") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name)


@pytest.fixture(scope="module")
def corpus():
    return generate_stories(CorpusConfig(n_stories=60, seed=1))


@pytest.fixture(scope="module")
def tokenized(corpus):
    tok = train_tokenizer(corpus, vocab_size=300)
    return tok, tok.encode_corpus(corpus)


def test_generator_is_seeded(corpus):
    again = generate_stories(CorpusConfig(n_stories=60, seed=1))
    assert again.text == corpus.text and again.spans == corpus.spans
    assert generate_stories(CorpusConfig(n_stories=60, seed=2)).text != corpus.text
    assert corpus.text.count("\n\n") == 59 and not corpus.text.endswith(" ")


def test_character_labels_mark_what_they_say(corpus):
    periods = corpus.char_labels("title_period")
    assert periods and all(corpus.text[s:e] == "." for s, e in periods)
    assert all(corpus.text[:s].endswith(("Mr", "Mrs", "Dr", "Ms")) for s, _ in periods)
    for s, e in corpus.char_labels("number"):
        assert corpus.text[s:e].strip().isdigit()
    for s, e in corpus.char_labels("question_mark"):
        assert corpus.text[s:e] == "?"
    inside = corpus.char_labels("in_quote")
    assert all('"' not in corpus.text[s:e] for s, e in inside)  # the marks themselves are not inside
    with pytest.raises(ValueError, match="unknown label"):
        corpus.char_labels("nope")
    assert set(corpus.labels) == set(LATENTS)


def test_tokens_carry_labels(tokenized):
    tok, tc = tokenized
    assert tc.tokens.shape[0] == tc.labels.shape[0] and tc.labels.shape[1] == len(LATENTS)
    strings = tok.token_strings(tc.tokens)
    k = LATENTS.index("title_period")
    marked = torch.nonzero(tc.labels[:, k]).flatten().tolist()
    assert marked and all(strings[i] == "." for i in marked)
    assert all("".join(strings[max(0, i - 3):i]).endswith(("Mr", "Mrs", "Dr", "Ms")) for i in marked)
    # a period that ends a sentence is not a title's period
    q = LATENTS.index("question_mark")
    assert all("?" in strings[i] for i in torch.nonzero(tc.labels[:, q]).flatten().tolist())
    assert tok.decode(tc.tokens[:50]) == "".join(strings[:50])


def test_windows_and_tokenizer_round_trip(tmp_path, corpus, tokenized):
    tok, tc = tokenized
    x, lab = tc.windows(32)
    assert x.shape[1] == 32 and lab.shape[:2] == x.shape and torch.equal(x.flatten(), tc.tokens[: x.numel()])
    with pytest.raises(ValueError, match="fewer than one window"):
        tc.windows(10**9)
    tok.save(tmp_path / "tok.json")
    again = sk.Tokenizer.load(tmp_path / "tok.json")
    assert again.encode(corpus.text[:500]) == tok.encode(corpus.text[:500])
    with pytest.raises(ValueError, match="no tokenizer file"):
        sk.Tokenizer.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(corpus, vocab_size=100)


def test_text_file_loader(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Mr. Smith went home.\n", encoding="utf-8")
    c = load_text_file(good)
    assert c.text.startswith("Mr.") and c.spans == [] and c.source == str(good)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with pytest.raises(ValueError, match="empty.txt.*empty"):
        load_text_file(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="latin.txt.*not UTF-8"):
        load_text_file(latin)
    with pytest.raises(ValueError, match="no such file"):
        load_text_file(tmp_path / "nope.txt")


def test_hf_loader_code_path_offline(monkeypatch, tmp_path):
    """The loader's logic on a stand-in `datasets` module (the real library is optional and needs no network here)."""
    calls = {}

    class FakeDataset(list):
        column_names = ["text"]

    def load_dataset(name, split, **kw):
        calls.update(name=name, split=split, **kw)
        return FakeDataset([{"text": "One story."}, {"text": " "}, {"text": "Two stories."}])

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    c = load_hf_dataset("text", data_files=str(tmp_path / "a.txt"), max_rows=None)
    assert c.text == "One story.\n\nTwo stories." and calls["data_files"].endswith("a.txt")
    with pytest.raises(ValueError, match="text_field='body'"):
        load_hf_dataset("text", text_field="body")


def test_hf_loader_with_the_real_library_on_a_local_file(tmp_path):
    datasets = optional_library("datasets")
    f = tmp_path / "local.txt"
    f.write_text("Dr. Hill smiled.\nMs. Fox ran.\n")
    c = load_hf_dataset("text", data_files=str(f), max_rows=None)
    assert "Dr. Hill smiled." in c.text and datasets is not None
