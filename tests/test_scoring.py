"""LLM-free detection scoring: hand-made latents with known answers, corpus-level values when every token is sampled,
neighbour negatives that are harder than random ones, Jaccard neighbours and the summaries against naive counts."""

import pytest
import torch

import sae_kit as sk
from sae_kit.lm import scoring as sc


def hand_made(n=6000, seed=0):
    """Labels A (10%), B (10%), C (50%) and "token 'x'" (5%); latent 0 fires exactly on A, latent 1 on half of B,
    latent 2 at random (10%), latent 3 exactly on token 'x'."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.stack([torch.rand(n, generator=g) < p for p in (0.1, 0.1, 0.5, 0.05)], 1)
    value = torch.rand(n, 4, generator=g) + 0.1
    fire = torch.stack([labels[:, 0], labels[:, 1] & (torch.rand(n, generator=g) < 0.5),
                        torch.rand(n, generator=g) < 0.1, labels[:, 3]], 1)
    return value * fire, labels, ["A", "B", "C", "token 'x'"]


def test_known_answers_and_summaries():
    codes, labels, names = hand_made()
    res = sc.score_latents(codes, labels, names, sc.ScoringConfig(seed=1))
    assert res.best_label.tolist()[:2] == [0, 1] and int(res.best_label[3]) == 3
    assert res.token_detector.tolist() == [False, False, False, True]
    assert res.scored.all()
    assert res.f1[0] == 1.0 and res.f1[3] == 1.0  # exact detectors are perfect
    assert res.recall[1] == 1.0 and 0.8 < res.precision[1] < 1.0  # it fires only on B, but not on all of B
    assert res.f1[2] < 0.5  # a random latent has no good annotation
    assert (res.quantile_recall[0] == 1).all() and res.quantile_recall.shape == (4, 10)
    every = res.summary()
    assert every["n_scored"] == 4 and every["token_detectors"] == 1
    assert every["perfect"] == pytest.approx(float((res.f1 == 1).float().mean()))
    w = res.n_fires.double()
    assert every["f1_weighted"] == pytest.approx(float((w * res.f1.double()).sum() / w.sum()))
    without = res.summary(exclude_token_detectors=True)
    assert without["n_scored"] == 3 and without["perfect"] < every["perfect"]
    again = sc.score_latents(codes, labels, names, sc.ScoringConfig(seed=1))
    assert torch.equal(again.f1.nan_to_num(-1), res.f1.nan_to_num(-1))  # same seed, same numbers


def test_sampling_every_token_gives_the_corpus_values():
    """With more examples than tokens, precision and recall are P(a | fires) and P(fires-sample | …) over the held-out
    half, and the per-quantile recall is the share of each equal-count activation bin carrying the annotation."""
    codes, labels, names = hand_made(n=3000, seed=2)
    codes[:, 2] = torch.relu(torch.randn(3000, generator=torch.Generator().manual_seed(0)))  # fires on ~half
    cfg = sc.ScoringConfig(n_activating=10**6, n_non_activating=10**6, n_quantiles=4, seed=0)
    res = sc.score_latents(codes, labels, names, cfg)
    held_c, held_l = codes[1500:], labels[1500:]
    for j in range(4):
        a, f = held_l[:, int(res.best_label[j])], held_c[:, j] > 0
        tp = float((a & f).sum())
        assert res.precision[j].item() == pytest.approx(tp / float(a.sum()))
        assert res.recall[j].item() == pytest.approx(tp / float(f.sum()))
        order = torch.nonzero(f).flatten()[held_c[f, j].argsort(stable=True)]
        naive = [float(a[b].float().mean()) for b in torch.tensor_split(order, 4)]
        assert res.quantile_recall[j].tolist() == pytest.approx(naive)


def test_neighbour_negatives_are_harder_than_random_ones():
    """Latent 0 fires on A∧C, latent 1 on A, latent 2 on B; only A and B are annotations. Random non-firing tokens
    rarely carry A, but the tokens where latent 1 (latent 0's co-occurrence neighbour) fires without latent 0 all do:
    every negative is a false positive and precision falls to ½."""
    g = torch.Generator().manual_seed(3)
    n = 6000
    a, c, b = (torch.rand(n, generator=g) < p for p in (0.1, 0.5, 0.1))
    codes = torch.stack([(a & c).float(), a.float(), b.float()], 1)
    labels, names = torch.stack([a, b], 1), ["A", "B"]
    rand = sc.score_latents(codes, labels, names, sc.ScoringConfig(negatives="random", n_neighbours=1))
    near = sc.score_latents(codes, labels, names, sc.ScoringConfig(negatives="neighbours", n_neighbours=1))
    assert rand.precision[0] > 0.85 and near.precision[0] == pytest.approx(0.5)
    assert near.summary()["f1"] < rand.summary()["f1"]
    assert torch.equal(near.recall, rand.recall)  # the same activating examples: a paired comparison


def test_jaccard_neighbours_match_naive_overlaps():
    fires = torch.rand(400, 6, generator=torch.Generator().manual_seed(4)) < 0.3
    fires[:, 5] = fires[:, 1] | (torch.rand(400, generator=torch.Generator().manual_seed(5)) < 0.05)
    nb = sc.jaccard_neighbours(fires, k=2, chunk=64)
    for i in range(6):
        jac = [float((fires[:, i] & fires[:, j]).sum() / (fires[:, i] | fires[:, j]).sum()) if j != i else -1 for j in range(6)]
        assert nb[i].tolist() == sorted(range(6), key=lambda j: -jac[j])[:2]
    assert nb[1, 0] == 5 and nb[5, 0] == 1
    with pytest.raises(ValueError, match="k must be < d_sae=6"):
        sc.jaccard_neighbours(fires, k=6)


def test_token_labels_are_appended_and_bad_input_is_named():
    tokens = torch.tensor([1, 2, 1, 3, 1, 2])
    labels, names, is_token = sc.with_token_labels(torch.zeros(6, 1, dtype=torch.bool), ["A"], tokens,
                                                   ["a", "b", "c", "d"], min_count=2)
    assert names == ["A", "token 'b'", "token 'c'"] and is_token.tolist() == [False, True, True]
    assert labels[:, 1].tolist() == (tokens == 1).tolist()
    with pytest.raises(ValueError, match="negatives must be"):
        sc.ScoringConfig(negatives="faiss")
    with pytest.raises(ValueError, match="holdout_fraction"):
        sc.ScoringConfig(holdout_fraction=1.0)
    with pytest.raises(ValueError, match="do not match"):
        sc.score_latents(torch.zeros(5, 2), torch.zeros(4, 1, dtype=torch.bool), ["A"])
    with pytest.raises(ValueError, match="is_token"):
        sc.score_latents(torch.zeros(6, 2), labels, names, is_token=torch.tensor([True]))
    assert sk.lm_analysis.token_labels(tokens, ["a", "b", "c", "d"], 2)[1] == names[1:]


def test_well_scored_count_passes_exact_detectors_and_fails_random_latents():
    """Notebook 05's "easy to label" count: exact detectors (latents 0 and 3) count, the random latent does not; the
    single-token detector drops out when asked; and the claim's threshold on the count can pass and fail."""

    codes, labels, names = hand_made()
    res = sc.score_latents(codes, labels, names, sc.ScoringConfig(seed=1))
    f1 = res.f1
    assert res.n_well_scored(0.8) == int((f1 >= 0.8).sum()) and res.n_well_scored(0.8) >= 2
    assert res.n_well_scored(0.8, exclude_token_detectors=True) == res.n_well_scored(0.8) - 1
    assert res.n_well_scored(1.0) == 2 and res.n_well_scored(0.0) == 4
    random_only = sc.score_latents(codes[:, [2]], labels, names, sc.ScoringConfig(seed=1))
    assert random_only.n_well_scored(sk.claims.lm.MIN_SCORE_F1) == 0  # a latent firing at random never counts
    with pytest.raises(ValueError, match="min_f1"):
        res.n_well_scored(1.5)
