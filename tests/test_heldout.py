"""Held-out evaluation: the split by story, batched metrics against `evaluate`, the chance count of unseen latents
against a naive simulation, and a grid measured on held-out rows."""

import pytest
import torch

import sae_kit as sk
from sae_kit.lm.corpus import CorpusConfig, generate_stories


@pytest.fixture(scope="module")
def corpus():
    return generate_stories(CorpusConfig(n_stories=40, seed=3))


def spans_by_story(corpus: sk.Corpus) -> list[list[tuple[str, str]]]:
    """For each story of the text: the (label, spanned text) pairs of the spans that start inside it."""
    bounds = sk.story_bounds(corpus.text)
    out = [[] for _ in bounds]
    for s, e, k in corpus.spans:
        for i, (bs, be) in enumerate(bounds):
            if bs <= s < be:
                out[i].append((corpus.labels[k], corpus.text[s:min(e, be)]))
    return out


def test_split_by_story_keeps_whole_stories_on_one_side(corpus):
    stories = [corpus.text[s:e] for s, e in sk.story_bounds(corpus.text)]
    assert len(stories) == 40 and all(s.strip() for s in stories)
    split = sk.split_by_story(corpus, heldout_fraction=0.25, seed=7)
    # no story on both sides, every story on one side, 10 of 40 held out
    assert not set(split.train_stories) & set(split.heldout_stories)
    assert sorted(split.train_stories + split.heldout_stories) == list(range(40)) and len(split.heldout_stories) == 10
    held_texts = [split.heldout.text[s:e] for s, e in sk.story_bounds(split.heldout.text)]
    train_texts = [split.train.text[s:e] for s, e in sk.story_bounds(split.train.text)]
    assert held_texts == [stories[i] for i in split.heldout_stories]
    assert train_texts == [stories[i] for i in split.train_stories]
    assert not set(held_texts) & set(train_texts)
    # every label span moves with its story and still covers the same text
    want = spans_by_story(corpus)
    assert spans_by_story(split.heldout) == [want[i] for i in split.heldout_stories]
    assert spans_by_story(split.train) == [want[i] for i in split.train_stories]
    assert split.heldout.char_labels("title_period") and all(
        split.heldout.text[s:e] == "." for s, e in split.heldout.char_labels("title_period"))
    # seeded
    again = sk.split_by_story(corpus, heldout_fraction=0.25, seed=7)
    assert again.heldout_stories == split.heldout_stories and again.heldout.text == split.heldout.text
    assert sk.split_by_story(corpus, heldout_fraction=0.25, seed=8).heldout_stories != split.heldout_stories


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.001, 0.999, -0.2])
def test_split_by_story_refuses_a_side_without_stories(corpus, fraction):
    with pytest.raises(ValueError, match="heldout_fraction"):
        sk.split_by_story(corpus, heldout_fraction=fraction)


def test_story_bounds_skip_empty_stretches():
    text = "One.\n\nTwo two.\n\n\n\nThree."
    assert [text[s:e] for s, e in sk.story_bounds(text)] == ["One.", "Two two.", "Three."]


def test_expected_unseen_matches_a_naive_simulation():
    """Σ_j (1 − p_j)^N against the mean number of latents with no firing in N Bernoulli(p_j) tokens, 4,000 trials."""
    g = torch.Generator().manual_seed(0)
    rates = torch.tensor([0.0, 1e-4, 0.002, 0.01, 0.03, 0.2, 1.0])  # [d_sae]
    n = 300
    trials = torch.rand(4000, n, len(rates), generator=g) < rates  # [trial, tok, d_sae]
    unseen = (~trials.any(1) & (rates > 0)).sum(-1).double()  # latents that fire somewhere but not in this sample
    want = float(sum((1 - p) ** n for p in rates.tolist() if p > 0))
    got = float(sk.expected_unseen(rates, n))
    assert got == pytest.approx(want, rel=1e-6)
    assert abs(float(unseen.mean()) - got) < 4 * float(unseen.std()) / 4000**0.5
    # batched over leading dimensions; p = 0 (dead anyway) and p = 1 add nothing
    assert torch.allclose(sk.expected_unseen(torch.stack([rates, rates]), n), torch.tensor([got, got]))
    assert float(sk.expected_unseen(torch.tensor([0.0, 1.0]), 10)) == 0.0
    # tiny rates, many tokens: no underflow (1 − 1e-9)^1e6 ≈ e^−0.001
    assert float(sk.expected_unseen(torch.tensor([1e-9], dtype=torch.float64), 10**6)) == pytest.approx(0.999, abs=1e-4)
    with pytest.raises(ValueError, match="rates"):
        sk.expected_unseen(torch.tensor([0.5, 1.5]), 10)
    with pytest.raises(ValueError, match="n_tokens"):
        sk.expected_unseen(rates, 0)


@pytest.mark.parametrize("kw", [dict(), dict(architecture="topk", k=[2, 3]), dict(decoder_bias=True, centre_input=True)])
def test_evaluate_heldout_in_batches_matches_evaluate(kw):
    g = torch.Generator().manual_seed(1)
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=20, n_inst=2, seed=2, **kw))
    with torch.no_grad():
        sae.b_enc.sub_(0.4)  # some latents never fire
    x = torch.randn(333, 6, generator=g)  # [tok, d]
    got, want = sk.evaluate_heldout(sae, x, batch_size=50), sk.evaluate(sae, x)
    assert got["dead"].tolist() == want["dead"]
    for key in ("fve", "mse", "l0"):
        assert torch.allclose(got[key], torch.tensor(want[key]), atol=1e-5), key
    codes = sae.eval()(x).codes  # [inst, tok, d_sae]
    assert torch.equal(got["fires"], (codes > 0).sum(1)) and torch.equal(sk.firing_counts(sae, x, batch_size=64), got["fires"])
    with pytest.raises(ValueError, match="x must be"):
        sk.evaluate_heldout(sae, torch.randn(10, 5))
    with pytest.raises(ValueError, match="batch_size"):
        sk.firing_counts(sae, x, batch_size=0)


def test_grid_measured_on_heldout_rows():
    g = torch.Generator().manual_seed(4)
    x_train, x_held = torch.randn(600, 8, generator=g), torch.randn(150, 8, generator=g)  # [tok, d]
    cfg = sk.TrainConfig(steps=30, batch_size=32, n_eval=64, seed=0, device="cpu")
    grid = sk.train_grid(x_train, [4, 16], [0.01, 3.0], cfg, sk.SAEConfig(d=8, d_sae=4), eval_data=x_held)
    assert grid.n_eval == 150 and grid.dead_chance.shape == grid.dead_train.shape == (2, 2)
    for i, run in enumerate(grid.runs):
        held = sk.evaluate(run.sae, x_held)
        assert grid.dead[i].tolist() == held["dead"] and torch.allclose(grid.fve[i], torch.tensor(held["fve"]), atol=1e-5)
        fires = (run.sae.eval()(x_train).codes > 0).sum(1).double()  # [inst, d_sae] on the training rows
        assert grid.dead_train[i].tolist() == (fires == 0).sum(-1).tolist()
        assert torch.allclose(grid.dead_chance[i], sk.expected_unseen(fires / 600, 150).float())
    # training monitored a sample of the held-out rows, not of its own data
    assert len(grid.runs[0].eval_history["dead"]) >= 1
    plain = sk.train_grid(x_train, [4, 16], [0.01, 3.0], cfg, sk.SAEConfig(d=8, d_sae=4))
    assert plain.dead_chance is None and plain.n_eval is None
    with pytest.raises(ValueError, match="eval_data must be"):
        sk.train_grid(x_train, [4], [0.1], cfg, eval_data=torch.randn(5, 3))
    with pytest.raises(ValueError, match="fixed tensor"):
        sk.train_grid(sk.ToyData(sk.ToyDataConfig(n_features=8, d=4)), [4], [0.1], cfg, eval_data=torch.randn(5, 4))
