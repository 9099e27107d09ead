"""Metrics against naive loops."""

import math

import pytest
import torch

import sae_kit as sk


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def naive_mcs(ref, learned):
    out = []
    for r in ref:
        best = -2.0
        for w in learned:
            nr, nw = r.norm().item(), w.norm().item()
            c = 0.0 if nr == 0 or nw == 0 else (r @ w).item() / (nr * nw)
            best = max(best, c)
        out.append(best)
    return torch.tensor(out)


def test_mcs_and_mmcs_match_naive():
    ref, learned = rand(9, 5, seed=1), rand(13, 5, seed=2)
    assert sk.mcs(ref, learned).allclose(naive_mcs(ref, learned), atol=1e-6)
    assert sk.mmcs(ref, learned) == pytest.approx(naive_mcs(ref, learned).mean().item(), abs=1e-6)


def test_instance_axis_equals_loop():
    ref, learned = rand(9, 5, seed=1), rand(3, 13, 5, seed=2)
    batched = sk.mmcs(ref, learned)
    assert batched.shape == (3,)
    for i in range(3):
        assert batched[i].item() == pytest.approx(sk.mmcs(ref, learned[i]), abs=1e-6)


def test_directions_are_different_numbers():
    truth = torch.eye(4)
    # a dictionary that found feature 0 perfectly, twice, plus junk: truth→learned is low, learned→truth is high
    learned = torch.stack([truth[0], truth[0], truth[0] + 0.01 * truth[1]])
    fwd = sk.mmcs_truth_to_learned(truth, learned)
    back = sk.mmcs_learned_to_truth(truth, learned)
    assert fwd == pytest.approx(0.25, abs=0.01)
    assert back == pytest.approx(1.0, abs=0.001)
    stacked = learned[None].expand(2, -1, -1)
    assert sk.mmcs_learned_to_truth(truth, stacked).allclose(torch.tensor([back, back]))


def test_scale_invariant_and_zero_rows():
    ref = rand(6, 4)
    assert sk.mmcs(ref, 7.0 * ref) == pytest.approx(1.0, abs=1e-6)
    assert sk.mcs(torch.zeros(2, 4), ref).tolist() == [0.0, 0.0]


def test_dead_l0_fve():
    codes = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]]])
    assert sk.dead_latents(codes).tolist() == [[True, False, False]]
    assert sk.l0(codes).tolist() == [1.5]
    x = rand(50, 3)
    assert sk.fraction_variance_explained(x, x).item() == pytest.approx(1.0)
    mean = x.mean(0, keepdim=True).expand_as(x)
    assert sk.fraction_variance_explained(x, mean).item() == pytest.approx(0.0, abs=1e-6)


def test_dictionary_mmcs_is_directional():
    small = torch.eye(3)
    large = torch.cat([torch.eye(3), rand(5, 3)])
    assert sk.dictionary_mmcs(small, large) == pytest.approx(1.0)
    assert sk.dictionary_mmcs(large, small) < 1.0


def test_random_directions_reference_value():
    # two independent random sets of unit vectors in high dimension: max |cos| ~ sqrt(2 log n / d)
    ref, learned = rand(256, 512, seed=3), rand(256, 512, seed=4)
    v = sk.mmcs(ref, learned)
    assert 0.5 * math.sqrt(2 * math.log(256) / 512) < v < 1.2 * math.sqrt(2 * math.log(256) / 512)


def test_dimension_mismatch():
    with pytest.raises(ValueError, match="same last dimension"):
        sk.mmcs(rand(3, 4), rand(3, 5))
