"""Computation in superposition: the absolute-value model, its hidden layer as SAE data, motif and SAE scoring."""

import math

import pytest
import torch

import sae_kit as sk
from sae_kit.analysis.abs_hidden import AbsHiddenData, plain_counterpart, score_sae_on_abs
from sae_kit.claims.next_toy import motif_claim
from sae_kit.toy.abs_model import (
    AbsModelConfig,
    AbsModelResult,
    abs_forward,
    abs_loss,
    neuron_motifs,
    sample_abs_batch,
    train_abs_model,
)


def small(**kw) -> AbsModelConfig:
    base = dict(n_features=6, d_hidden=4, feature_probability=[1.0, 0.1], steps=150, batch_size=256, lr=1e-2, n_eval=1024)
    return AbsModelConfig(**{**base, **kw})


@pytest.mark.parametrize("kw, field", [
    (dict(feature_probability=0.0), "feature_probability"),
    (dict(feature_probability=[0.5, 1.2]), "feature_probability"),
    (dict(feature_probability=[]), "feature_probability"),
    (dict(importance=0.0), "importance"),
    (dict(d_hidden=0), "d_hidden"),
    (dict(lr=-1.0), "lr"),
])
def test_config_rejects_bad_input(kw, field):
    with pytest.raises(ValueError, match=field):
        small(**kw)


def test_sample_range_and_density():
    g = torch.Generator().manual_seed(0)
    x = sample_abs_batch(torch.tensor([0.2, 1.0]), 5, 20_000, g)  # [inst, batch, feat]
    assert x.shape == (2, 20_000, 5) and x.min() >= -1 and x.max() < 1
    assert abs((x[0] != 0).float().mean() - 0.2) < 0.01 and (x[1] != 0).float().mean() > 0.999
    assert abs(x[1].mean()) < 0.02 and abs((x[1] > 0).float().mean() - 0.5) < 0.01  # symmetric


def test_forward_and_loss_match_a_naive_loop():
    g = torch.Generator().manual_seed(1)
    W1, W2, b = torch.randn(2, 3, 5, generator=g), torch.randn(2, 5, 3, generator=g), torch.randn(2, 5, generator=g)
    x = torch.randn(2, 7, 5, generator=g)
    imp = 0.8 ** torch.arange(5.0)
    h, y = abs_forward(W1, W2, b, x)
    loss = abs_loss(W1, W2, b, x, imp)
    for i in range(2):
        hh = torch.relu(x[i] @ W1[i].T)
        yy = torch.relu(hh @ W2[i].T + b[i])
        assert torch.allclose(h[i], hh, atol=1e-5) and torch.allclose(y[i], yy, atol=1e-5)
        naive = sum(imp[j] * (yy[n, j] - x[i, n, j].abs()) ** 2 for n in range(7) for j in range(5)) / 35
        assert math.isclose(float(loss[i]), float(naive), rel_tol=1e-4)


def test_a_hand_built_model_computes_abs_exactly():
    """Two neurons per feature (ReLU(x) and ReLU(−x)) read out with +1: y = |x|, loss 0 — the dense solution."""
    n = 3
    W1 = torch.cat([torch.eye(n), -torch.eye(n)])[None]  # [1, 2n, n]
    W2 = torch.cat([torch.eye(n), torch.eye(n)], dim=1)[None]  # [1, n, 2n]
    x = sample_abs_batch(torch.tensor([0.5]), n, 100, torch.Generator().manual_seed(0))
    assert float(abs_loss(W1, W2, torch.zeros(1, n), x, torch.ones(n))) < 1e-12
    m = neuron_motifs(W1, W2)
    assert m["used"].tolist() == [2 * n] and m["polysemantic"].tolist() == [0] and m["asymmetric"].tolist() == [0]


def test_motifs_find_an_asymmetric_neuron():
    """Neuron 0 fires for x_0 > 0 and for x_1 < 0 and feeds both outputs: one asymmetric polysemantic neuron."""
    W1 = torch.tensor([[1.0, -0.5], [0.0, 1.0]])  # [d_hidden, feat]
    W2 = torch.tensor([[1.0, 0.0], [0.6, 1.0]])  # [feat, d_hidden]
    m = neuron_motifs(W1, W2)
    assert m["polysemantic"].item() == 1 and m["asymmetric"].item() == 1 and m["asymmetric_fraction"].item() == 0.5
    same_sign = neuron_motifs(W1.abs(), W2)  # both features enter positively: polysemantic, not asymmetric
    assert same_sign["polysemantic"].item() == 1 and same_sign["asymmetric"].item() == 0
    with pytest.raises(ValueError, match="threshold"):
        neuron_motifs(W1, W2, threshold=0.0)
    with pytest.raises(ValueError, match="W1"):
        neuron_motifs(W1, W2[:, :1])


def test_motif_claim_passes_and_fails():
    assert motif_claim([1.0, 0.1, 0.01], [0.0, 0.2, 0.5])["replicated"]
    assert not motif_claim([1.0, 0.1, 0.01], [0.4, 0.4, 0.5])["replicated"]  # dense already superposed
    assert not motif_claim([1.0, 0.1, 0.01], [0.0, 0.1, 0.1])["replicated"]  # sparse not superposed
    with pytest.raises(ValueError, match="probabilities"):
        motif_claim([1.0], [0.0])


def test_training_learns_and_is_deterministic():
    a, b = train_abs_model(small()), train_abs_model(small())
    assert a.W1.shape == (2, 4, 6) and a.W2.shape == (2, 6, 4) and a.b.shape == (2, 6)
    assert torch.equal(a.W1, b.W1) and torch.equal(a.loss, b.loss)
    assert (a.loss_history[-1] < a.loss_history[0]).all()
    c = train_abs_model(small(seed=1))
    assert not torch.equal(a.W1, c.W1)


def _hand_result(W1: torch.Tensor, p: float = 0.1) -> AbsModelResult:
    n = W1.shape[1]
    cfg = AbsModelConfig(n_features=n, d_hidden=W1.shape[0], feature_probability=[p], steps=1)
    return AbsModelResult(W1=W1[None], W2=torch.zeros(1, n, W1.shape[0]), b=torch.zeros(1, n), loss=torch.zeros(1),
                          loss_history=torch.empty(0, 1), cfg=cfg, seconds=0.0)


def test_hidden_data_known_directions_are_the_relu_parts():
    W1 = torch.tensor([[1.0, -1.0, 0.0], [-2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # [d=3, feat=3]; feature 2 unrepresented
    data = AbsHiddenData(_hand_result(W1))
    assert isinstance(data, sk.DataSource)
    # parts kept: +0 (e_0), +1 (e_2), −0 (e_1 · 2), −1 (e_0); feature 2 has no parts
    assert data.feature_index.tolist() == [0, 1, 0, 1] and data.sign.tolist() == [1, 1, -1, -1]
    expected = torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])
    assert torch.allclose(data.features, expected)
    # a single active feature: h is exactly the coefficient times its part's direction
    x = torch.tensor([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0], [0.0, -0.3, 0.0]])
    h, c = data.encode_inputs(x)
    assert torch.allclose(h, c @ data.features, atol=1e-6)
    assert (c > 0).tolist() == [[True, False, False, False], [False, False, True, False], [False, False, False, True]]
    hs, cs = data.sample(64, torch.Generator().manual_seed(0))
    assert hs.shape == (64, 3) and cs.shape == (64, 4)
    with pytest.raises(ValueError, match="instance"):
        AbsHiddenData(_hand_result(W1), instance=1)
    with pytest.raises(ValueError, match="rel_threshold"):
        AbsHiddenData(_hand_result(W1), rel_threshold=0.0)


def test_score_against_hand_made_codes():
    known = torch.eye(3)  # [dir, d]
    labels = torch.tensor([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.bool)  # [batch, dir]
    decoder = torch.tensor([[1.0, 0.1, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 0.0, 0.9]])  # latent 3 is also matched to dir 2
    codes = torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 1.0], [0, 1.0, 0, 0], [0, 0, 1.0, 1.0]])  # [batch, d_sae]
    s = score_sae_on_abs(codes, decoder, known, labels)
    assert s.match.tolist() == [[0, 1, 2, 2]]
    assert torch.allclose(s.precision[0], torch.tensor([1.0, 1.0, 1.0, 0.5]))
    assert torch.allclose(s.recall[0], torch.tensor([1.0, 1.0, 1.0, 1.0]))
    c0 = 1 / math.sqrt(1.01)  # cos of latent 0 with direction 0
    assert torch.allclose(s.mcs[0], torch.tensor([c0, 1.0, 1.0]), atol=1e-6) and s.mmcs.shape == (1,)
    assert abs(float(s.mcc[0]) - (c0 + 2) / 3) < 1e-6
    dead = score_sae_on_abs(torch.zeros(4, 4), decoder, known, labels)
    assert torch.isnan(dead.precision).all() and not dead.alive.any()
    with pytest.raises(ValueError, match="labels"):
        score_sae_on_abs(codes, decoder, known, labels[:, :2])


def test_an_sae_on_the_hidden_layer_finds_the_parts():
    """A trained sparse model's hidden layer: an L1 SAE recovers most known parts (MMCS well above random)."""
    res = train_abs_model(small(n_features=8, d_hidden=6, feature_probability=[0.05], steps=600))
    data = AbsHiddenData(res)
    out = sk.train_sae(data, sk.SAEConfig(d=data.d, d_sae=2 * data.features.shape[0], l1_coeff=0.3),
                       sk.TrainConfig(steps=600, batch_size=256, lr=1e-2, progress=False, device="cpu", matmul_dtype="float32"))
    x = data.sample_inputs(4096, torch.Generator().manual_seed(3))
    h, c = data.encode_inputs(x)
    s = score_sae_on_abs(out.sae.encode(h).detach(), out.sae.dictionary, data.features, c > 0)
    rand = torch.nn.functional.normalize(torch.randn(out.sae.cfg.d_sae, data.d, generator=torch.Generator().manual_seed(0)), dim=-1)
    assert float(s.mmcs[0]) > 0.9 > float(sk.mmcs(data.features, rand))


def test_plain_counterpart_matches_the_setting():
    res = train_abs_model(small(steps=2))
    cfg = plain_counterpart(res, instance=1)
    assert isinstance(cfg, sk.TMSConfig) and cfg.n_features == 6 and cfg.d_hidden == 4
    assert math.isclose(float(cfg.probabilities()[0]), 0.1, rel_tol=1e-6)
    assert torch.allclose(cfg.importances()[0], res.cfg.importances())
    with pytest.raises(ValueError, match="instance"):
        plain_counterpart(res, instance=2)


def test_compare_with_plain_scores_both_models():
    res = train_abs_model(small(n_features=6, d_hidden=4, feature_probability=[0.1], steps=100))
    out = sk.compare_with_plain(res, 0, sk.SAEConfig(d=4, d_sae=8, l1_coeff=0.1),
                                sk.TrainConfig(steps=30, batch_size=64, progress=False, device="cpu", matmul_dtype="float32"),
                                n_samples=512)
    assert set(out) == {"computing", "plain"}
    assert out["computing"].mcs.shape[1] == AbsHiddenData(res).features.shape[0]
    assert out["plain"].precision.shape == (1, 8) and 0 <= float(out["plain"].mmcs[0]) <= 1
