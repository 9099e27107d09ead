"""The Sharkey, Braun & Millidge (2022) toy-data generator against the report's stated recipe."""

import math

import pytest
import torch
from scipy import stats

import sae_kit as sk
from tests.conftest import small_data_cfg


def draw(cfg: sk.ToyDataConfig, n: int, seed: int = 1):
    data = sk.ToyData(cfg)
    return data, data.sample(n, torch.Generator().manual_seed(seed))


def test_report_defaults():
    cfg = sk.ToyDataConfig()
    assert (cfg.n_features, cfg.d, cfg.avg_active, cfg.decay, cfg.correlated) == (512, 256, 5.0, 0.99, False)
    p = sk.activation_probabilities(512, 5.0, 0.99)
    # p_i = m λ^i / Σ_j λ^j, summing to m; the first is 5·0.01/(1 − 0.99^512)
    assert p.sum().item() == pytest.approx(5.0)
    assert p[0].item() == pytest.approx(5 * 0.01 / (1 - 0.99**512))
    assert (p[1:] / p[:-1]).allclose(torch.tensor(0.99, dtype=torch.float64))


def test_features_are_unit_vectors_on_the_sphere():
    data = sk.ToyData(sk.ToyDataConfig())
    assert data.features.shape == (512, 256)
    assert data.features.norm(dim=1).allclose(torch.ones(512), atol=1e-5)
    # random directions in 256-d: nearly orthogonal, |cos| ~ 1/√256 on average
    cos = data.features @ data.features.T
    off = cos[~torch.eye(512, dtype=torch.bool)].abs()
    assert off.mean().item() == pytest.approx(math.sqrt(2 / math.pi) / 16, rel=0.05)


def test_mean_active_count_and_frequencies():
    data, (x, c) = draw(sk.ToyDataConfig(), 40_000)
    active = c > 0
    assert active.sum(1).float().mean().item() == pytest.approx(5.0, rel=0.02)
    freq = active.float().mean(0)
    p = data.probabilities
    # the first features fire far more often than the last, as p_i says
    assert freq[:16].mean().item() == pytest.approx(p[:16].mean().item(), rel=0.05)
    assert freq[-128:].mean().item() == pytest.approx(p[-128:].mean().item(), rel=0.15)
    assert freq[:16].mean() > 50 * freq[-16:].mean()
    assert x.allclose(c @ data.features, atol=1e-5)


def test_coefficients_are_uniform_01():
    _, (_, c) = draw(sk.ToyDataConfig(), 20_000)
    vals = c[c > 0]
    assert vals.max() < 1.0 and vals.min() >= 0.0
    # Kolmogorov–Smirnov against U[0, 1): a product of two uniforms (a known pitfall) fails this badly
    assert stats.kstest(vals.numpy(), "uniform").pvalue > 1e-3
    prod = vals * torch.rand(vals.shape, generator=torch.Generator().manual_seed(0))
    assert stats.kstest(prod.numpy(), "uniform").pvalue < 1e-6


def test_magnitude_decay_scales_features():
    cfg = sk.ToyDataConfig(magnitude_decay=0.995)
    data, (_, c) = draw(cfg, 40_000)
    mean_active = c.sum(0) / (c > 0).sum(0).clamp_min(1)
    expect = 0.5 * 0.995 ** torch.arange(512)
    assert mean_active[:64].mean().item() == pytest.approx(expect[:64].mean().item(), rel=0.05)
    assert mean_active[:64].mean() > 1.5 * mean_active[256:320].mean()


def test_correlated_variant_keeps_mean_and_correlates_within_a_batch():
    cfg = small_data_cfg(n_features=64, correlated=True, avg_active=3.0, decay=0.99)
    data, (_, c) = draw(cfg, 50_000)
    active = (c > 0).float()
    assert active.sum(1).mean().item() == pytest.approx(3.0, rel=0.03)
    # co-activation follows the correlation matrix *inside one batch*: a per-batch draw would make features
    # independent within the batch, giving zero correlation between activations here
    corr = torch.corrcoef(active.T)
    r = data.correlation
    mask = ~torch.eye(64, dtype=torch.bool)
    rho = stats.pearsonr(r[mask].numpy(), corr[mask].numpy()).statistic
    assert rho > 0.3
    # an uncorrelated generator shows no such relation
    _, (_, c0) = draw(small_data_cfg(n_features=64, avg_active=3.0, decay=0.99), 50_000)
    corr0 = torch.corrcoef((c0 > 0).float().T)
    assert abs(stats.pearsonr(r[mask].numpy(), corr0[mask].numpy()).statistic) < 0.1


def test_correlated_variant_coactivation_is_far_above_the_noise_floor():
    """The achieved co-activation correlation against the independent variant's on the same number of samples (its
    noise floor), and against the strength: 0 gives the floor, the default far above it."""
    n = 20_000
    cfg = dict(n_features=64, avg_active=3.0, decay=0.99)
    stat = lambda **kw: sk.toy_data_stats(sk.ToyData(small_data_cfg(**cfg, **kw)), n_samples=n)["coactivation"]  # noqa: E731
    floor, zero, strong = stat(), stat(correlated=True, correlation_strength=0.0), stat(correlated=True)
    assert floor < 2 * math.sqrt(2 / math.pi) / math.sqrt(n)  # independent: at the floor
    assert zero < 1.2 * floor and strong > 5 * floor, (floor, zero, strong)
    assert stat(correlated=True, correlation_strength=0.4) < strong  # the strength sets how much


def test_same_seed_same_numbers():
    a = sk.ToyData(small_data_cfg(correlated=True, decay=0.99))
    b = sk.ToyData(small_data_cfg(correlated=True, decay=0.99))
    assert torch.equal(a.features, b.features)
    xa, _ = a.sample(100, torch.Generator().manual_seed(5))
    xb, _ = b.sample(100, torch.Generator().manual_seed(5))
    assert torch.equal(xa, xb)
    assert not torch.equal(a.features, sk.ToyData(small_data_cfg(seed=1)).features)


@pytest.mark.parametrize(
    "kw, field",
    [
        (dict(n_features=0), "n_features"),
        (dict(d=-3), "d"),
        (dict(avg_active=40.0), "avg_active"),
        (dict(avg_active=-1.0), "avg_active"),
        (dict(decay=1.5), "decay"),
        (dict(decay=0.0), "decay"),
        (dict(magnitude_decay=2.0), "magnitude_decay"),
        (dict(avg_active=20.0, decay=0.5), "avg_active"),  # first probability would exceed 1
        (dict(correlated=True, correlation_strength=1.0), "correlation_strength"),  # Σ would be singular
        (dict(correlated=True, correlation_strength=-0.1), "correlation_strength"),
        (dict(correlation_strength=float("nan")), "correlation_strength"),
        (dict(avg_active=float("nan")), "avg_active"),
        (dict(n_features=10**12), "n_features"),  # refused before allocating 4 TB of feature directions
        (dict(d=10**10), "d"),
        (dict(n_features=100_000, correlated=True), "n_features"),  # [feat, feat] matrices of 240 GB
    ],
)
def test_bad_config_names_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        small_data_cfg(**kw)


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        sk.ToyData(small_data_cfg()).sample(0)


def test_sample_is_the_sum_of_its_active_features():
    """x = c @ features, whether summed sparsely (the CPU path at m ≪ G) or as the dense product (dense c)."""
    from sae_kit.toy.data import sparse_combination

    data = sk.ToyData(sk.ToyDataConfig(n_features=64, d=32, avg_active=3.0, device="cpu"))
    g = torch.Generator().manual_seed(0)
    x, c = data.sample(500, g)
    assert torch.allclose(x, c @ data.features, atol=1e-6)
    naive = torch.stack([sum((ci[j] * data.features[j] for j in torch.nonzero(ci).flatten()), torch.zeros(32)) for ci in c])
    assert torch.allclose(x, naive, atol=1e-6)
    dense = torch.rand(20, 64, generator=g)  # every coefficient nonzero: the dense product
    assert torch.equal(sparse_combination(dense, data.features), dense @ data.features)
    b, f = c.nonzero(as_tuple=True)  # the drawn entries handed in give the same sum, a zero-valued entry adding nothing
    zero = (torch.tensor([0]), torch.tensor([int(torch.nonzero(c[0] == 0)[0])]), torch.tensor([0.0]))
    entries = (torch.cat([b, zero[0]]), torch.cat([f, zero[1]]), torch.cat([c[b, f], zero[2]]))
    assert torch.equal(sparse_combination(c, data.features, entries), sparse_combination(c, data.features))
