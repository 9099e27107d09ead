"""The α collapse law: α* from a grid (with log interpolation), the power-law fit and its CI, the claim."""

import math

import pytest
import torch
from scipy import stats

from sae_kit.analysis.collapse import CollapseConfig, PowerLawFit, collapse_alpha, fit_power_law, run_collapse
from sae_kit.claims.next_toy import collapse_claim

ALPHAS = [10 ** (e / 4) for e in range(-4, 5)]  # 0.1 … 10


def test_collapse_alpha_interpolates_in_log_alpha():
    mmcs = [0.5, 0.9, 0.99, 0.99, 0.95, 0.9, 0.7, 0.3, 0.1]  # rises (too dense), peaks, collapses between α_5 and α_6
    got = collapse_alpha(ALPHAS, mmcs)
    t = (0.9 - 0.8) / (0.9 - 0.7)
    assert math.isclose(math.log(got), math.log(ALPHAS[5]) + t * (math.log(ALPHAS[6]) - math.log(ALPHAS[5])), rel_tol=1e-9)
    # the low MMCS at tiny α is not a collapse: without the rise α* is the same
    assert math.isclose(collapse_alpha(ALPHAS, [0.99] * 4 + mmcs[4:]), got, rel_tol=1e-12)


def test_dead_latents_trigger_collapse_first():
    mmcs = [0.99] * 9
    dead = [0.0, 0.0, 0.1, 0.2, 0.4, 0.6, 0.9, 1.0, 1.0]
    got = collapse_alpha(ALPHAS, mmcs, dead)
    t = (0.5 - 0.4) / (0.6 - 0.4)
    assert math.isclose(math.log(got), math.log(ALPHAS[4]) + t * (math.log(ALPHAS[5]) - math.log(ALPHAS[4])), rel_tol=1e-9)
    assert math.isnan(collapse_alpha(ALPHAS, mmcs, dead, dead_threshold=None))  # MMCS alone never collapses here
    assert math.isnan(collapse_alpha(ALPHAS, [0.5] * 9))  # never works: below the grid


@pytest.mark.parametrize("kw, field", [
    (dict(alphas=[1.0, 0.5], mmcs=[0.9, 0.9]), "alphas"),
    (dict(alphas=[1.0, 2.0], mmcs=[0.9]), "alphas"),
    (dict(alphas=[1.0, 2.0], mmcs=[0.9, 0.9], mmcs_threshold=1.5), "mmcs_threshold"),
    (dict(alphas=[1.0, 2.0], mmcs=[0.9, 0.9], dead_fraction=[0, 0], dead_threshold=1.0), "dead_threshold"),
])
def test_collapse_alpha_rejects_bad_input(kw, field):
    with pytest.raises(ValueError, match=field):
        collapse_alpha(**kw)


def test_fit_recovers_a_known_power_law_and_its_t_interval():
    sizes = [64, 128, 256, 512]
    noise = torch.tensor([[0.05, -0.02, 0.0, 0.03], [-0.04, 0.01, 0.02, -0.01], [0.0, 0.03, -0.03, 0.0]])
    a = 0.01 * torch.tensor(sizes, dtype=torch.float64) ** 1.0 * noise.double().exp()  # [seed, size]
    fit = fit_power_law(sizes, a)
    x = torch.tensor(sizes, dtype=torch.float64).log()
    naive = [stats.linregress(x.numpy(), a[i].log().numpy()).slope for i in range(3)]
    assert torch.allclose(torch.tensor(fit.seed_slopes, dtype=torch.float64), torch.tensor(naive, dtype=torch.float64))
    pooled = stats.linregress(x.repeat(3).numpy(), a.log().reshape(-1).numpy())
    assert math.isclose(fit.slope, pooled.slope, rel_tol=1e-9) and math.isclose(fit.intercept, pooled.intercept, rel_tol=1e-9)
    mean, sem = sum(naive) / 3, stats.sem(naive)
    half = stats.t.ppf(0.975, 2) * sem
    assert math.isclose(fit.ci_low, mean - half, rel_tol=1e-9) and math.isclose(fit.ci_high, mean + half, rel_tol=1e-9)
    assert fit.ci_low < 1 < fit.ci_high and fit.n_points == 12
    a[0, 1] = math.nan  # a size without collapse is left out
    assert fit_power_law(sizes, a).n_points == 11
    with pytest.raises(ValueError, match="alpha_star"):
        fit_power_law(sizes, a[:, :3])
    with pytest.raises(ValueError, match="2 distinct sizes"):
        fit_power_law(sizes, torch.full((2, 4), math.nan))


def _fit(slope: float) -> PowerLawFit:
    return PowerLawFit(slope, 0.0, slope - 0.1, slope + 0.1, [slope] * 3, 12)


def test_claim_passes_and_fails():
    assert collapse_claim({"mean": _fit(0.95), "sum": _fit(0.1)})["replicated"]
    assert not collapse_claim({"mean": _fit(0.1), "sum": _fit(0.05)})["replicated"]  # no size dependence at all
    assert not collapse_claim({"mean": _fit(1.0), "sum": _fit(0.9)})["replicated"]  # sum convention also scales
    assert not collapse_claim({"mean": _fit(math.nan), "sum": _fit(0.0)})["replicated"]
    with pytest.raises(ValueError, match="both conventions"):
        collapse_claim({"mean": _fit(1.0)})


@pytest.mark.parametrize("kw, field", [
    (dict(d_sae_values=(64,)), "d_sae_values"),
    (dict(d_sae_values=(128, 64)), "d_sae_values"),
    (dict(alpha_exponents={"max": (0, 4)}), "alpha_exponents"),
    (dict(alpha_exponents={"mean": (4, 0)}), "alpha_exponents"),
    (dict(seeds=0), "seeds"),
])
def test_config_rejects_bad_input(kw, field):
    with pytest.raises(ValueError, match=field):
        CollapseConfig(**kw)


def test_run_collapse_small_and_deterministic():
    cfg = CollapseConfig(n_features=8, d=4, avg_active=1.0, d_sae_values=(8, 16), seeds=2, steps=60, batch_size=64,
                         alpha_exponents={"mean": (-2, 6), "sum": (-8, 0)})
    a, b = run_collapse(cfg), run_collapse(cfg)
    for conv in ("mean", "sum"):
        assert a.alpha_star[conv].shape == (2, 2)
        assert torch.equal(a.alpha_star[conv].nan_to_num(-1), b.alpha_star[conv].nan_to_num(-1))
        assert len(a.grids[conv]) == 2 and a.grids[conv][0].mmcs.shape == (2, 9)
    assert not torch.equal(a.grids["mean"][0].mmcs, a.grids["mean"][1].mmcs)  # seeds differ


def test_dead_latents_count_against_the_features_not_the_dictionary():
    """An 8G dictionary that keeps every feature with 60 % of its latents idle has not collapsed; at d_sae = G the
    same dead fraction leaves fewer live latents than half the features, which is collapse."""
    cfg = CollapseConfig(n_features=32, d=16, d_sae_values=(32, 256))
    assert cfg.dead_threshold(32) == 0.5 and cfg.dead_threshold(256) == 1 - 16 / 256
    mmcs, dead = [0.99] * 9, [0.0, 0.1, 0.3, 0.45, 0.6, 0.7, 0.8, 0.95, 0.99]
    at_g = collapse_alpha(ALPHAS, mmcs, dead, dead_threshold=cfg.dead_threshold(32))
    at_8g = collapse_alpha(ALPHAS, mmcs, dead, dead_threshold=cfg.dead_threshold(256))
    assert ALPHAS[3] < at_g < ALPHAS[4] and ALPHAS[6] < at_8g < ALPHAS[7]
    assert CollapseConfig(alive_features=None).dead_threshold(64) is None
    with pytest.raises(ValueError, match="alive_features"):
        CollapseConfig(n_features=32, d_sae_values=(16, 64))  # 16 latents cannot keep half of 32 features alive
    with pytest.raises(ValueError, match="alive_features"):
        CollapseConfig(alive_features=1.5)
