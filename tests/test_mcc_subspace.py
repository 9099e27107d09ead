"""MCC (one-to-one matching) against a brute-force search and SAELens' definition; principal angles against scipy."""

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import torch

import sae_kit as sk


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def brute_force_mcc(ref, learned, convention):
    """Best mean |cos| over every injective assignment of the smaller set into the larger one."""
    a = ref / ref.norm(dim=1, keepdim=True).clamp_min(1e-8)
    b = learned / learned.norm(dim=1, keepdim=True).clamp_min(1e-8)
    s = (a @ b.T).abs()
    n, m = s.shape
    if n <= m:
        best = max(sum(s[i, p[i]].item() for i in range(n)) for p in itertools.permutations(range(m), n))
    else:
        best = max(sum(s[p[j], j].item() for j in range(m)) for p in itertools.permutations(range(n), m))
    return best / (min(n, m) if convention == "saelens" else n)


def saelens_mcc(ground_truth, learned):
    """SAELens 6.54 `mean_correlation_coefficient` (synthetic/evals.py), transcribed: clamp norms, |cos|, Hungarian."""
    from scipy.optimize import linear_sum_assignment

    gt = ground_truth / ground_truth.norm(dim=1, keepdim=True).clamp(min=1e-8)
    le = learned / learned.norm(dim=1, keepdim=True).clamp(min=1e-8)
    cos = (gt @ le.T).abs().numpy()
    r, c = linear_sum_assignment(-cos)
    return float(cos[r, c].mean())


@pytest.mark.parametrize("n,m", [(4, 4), (3, 5), (5, 3), (1, 4)])
@pytest.mark.parametrize("convention", ["saelens", "reference"])
def test_mcc_matches_brute_force(n, m, convention):
    ref, learned = rand(n, 6, seed=n), rand(m, 6, seed=10 + m)
    assert sk.mcc(ref, learned, convention) == pytest.approx(brute_force_mcc(ref, learned, convention), abs=1e-6)


def test_mcc_saelens_convention_equals_saelens_definition():
    for n, m in [(7, 9), (9, 7), (8, 8)]:
        ref, learned = rand(n, 5, seed=n), rand(m, 5, seed=m + 50)
        learned[0] = 0.0  # a zero row scores 0 under both
        assert sk.mcc(ref, learned) == pytest.approx(saelens_mcc(ref, learned), abs=1e-6)


def test_mcc_conventions_and_bounds():
    truth = torch.eye(4)
    # a dictionary holding two of the four features exactly: SAELens averages the 2 matched pairs, ours counts 4
    assert sk.mcc(truth, truth[:2]) == pytest.approx(1.0)
    assert sk.mcc(truth, truth[:2], convention="reference") == pytest.approx(0.5)
    # copies are not rewarded: MMCS is 1 for four copies of feature 0 on feature 0 but MCC uses each row once
    copies = truth[[0, 0, 0, 0]]
    assert sk.mmcs(truth[:1], copies) == pytest.approx(1.0)
    assert sk.mcc(truth, copies, convention="reference") == pytest.approx(0.25)
    # sign-blind and permutation-invariant
    perm = -truth[[2, 0, 3, 1]]
    assert sk.mcc(truth, perm) == pytest.approx(1.0)
    # with |cos|, MCC (reference convention) ≤ MMCS of |cos| for any input
    ref, learned = rand(10, 6, seed=3), rand(14, 6, seed=4)
    mmcs_abs = sk.cosine_matrix(ref, learned).abs().amax(dim=1).mean().item()
    assert sk.mcc(ref, learned, "reference") <= mmcs_abs + 1e-6


def test_mcc_instance_axis_and_errors():
    ref, learned = rand(6, 5, seed=1), rand(3, 8, 5, seed=2)
    batched = sk.mcc(ref, learned)
    assert batched.shape == (3,)
    for i in range(3):
        assert batched[i].item() == pytest.approx(sk.mcc(ref, learned[i]), abs=1e-6)
    with pytest.raises(ValueError, match="convention"):
        sk.mcc(ref, learned, convention="mean")
    with pytest.raises(ValueError, match="reference"):
        sk.mcc(ref[None], learned)


@pytest.mark.parametrize("na,nb,d", [(2, 3, 7), (3, 3, 5), (4, 2, 9), (1, 1, 3)])
def test_principal_angles_match_scipy(na, nb, d):
    a, b = rand(na, d, seed=na), rand(nb, d, seed=nb + 20)
    ours = sk.principal_angles(a, b).numpy()
    ref = np.sort(scipy.linalg.subspace_angles(a.T.double().numpy(), b.T.double().numpy()))  # scipy wants columns
    assert ours.shape == ref.shape
    assert np.allclose(ours, ref, atol=1e-5)


def test_principal_angles_are_basis_invariant():
    plane = rand(2, 8, seed=1)
    rot = torch.tensor([[math.cos(0.7), -math.sin(0.7)], [math.sin(0.7), math.cos(0.7)]])
    rotated = 3.0 * (rot @ plane)  # another basis of the same plane
    assert sk.principal_angles(plane, rotated).abs().max() < 1e-3
    # MCS does see the rotation: neither rotated row matches a plane row well
    assert sk.mmcs(plane, rotated) < 0.99
    # a plane at a known angle: span(e0, e1) vs span(e0, cos t e1 + sin t e2) → angles 0 and t
    t = 0.4
    e = torch.eye(3)
    angles = sk.principal_angles(e[:2], torch.stack([e[0], math.cos(t) * e[1] + math.sin(t) * e[2]]))
    assert angles.tolist() == pytest.approx([0.0, t], abs=1e-4)
    # dependent rows are dropped: three vectors in a plane span the plane
    assert sk.principal_angles(plane, torch.cat([plane, plane.sum(0, keepdim=True)])).shape == (2,)
    with pytest.raises(ValueError, match="same d"):
        sk.principal_angles(plane, rand(2, 5))
