"""The exercises' checkers accept the reference solutions, reject typical wrong answers with a message that names the
mistake, and the reference solutions agree with the kit's own implementations."""

import time

import pytest
import torch
from scipy.optimize import linear_sum_assignment

import sae_kit as sk
from sae_kit.exercises import solutions as sol
from sae_kit.toy.tms import tms_forward as kit_tms_forward
from sae_kit.toy.tms import tms_loss as kit_tms_loss

ex = sk.exercises
NAMES = ["tms_forward", "tms_loss", "dimensionality", "sae_forward", "l1_loss", "decoder_renorm", "mmcs", "mcc", "topk",
         "auxk_loss", "matryoshka_loss"]


def rejected(capsys, check, fn, *expected: str) -> str:
    """Assert `check(fn)` fails and its message contains every expected fragment; return the message."""
    assert check(fn) is False
    msg = capsys.readouterr().out
    assert msg.startswith("✗ ") and "failed on case" in msg, msg
    for part in expected:
        assert part in msg, f"{part!r} not in:\n{msg}"
    return msg


# --- the reference solutions pass, fast, and strict mode raises ------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_passes_fast(name, capsys):
    t0 = time.perf_counter()
    assert getattr(ex, f"check_{name}")(getattr(sol, name)) is True
    assert time.perf_counter() - t0 < 1.0
    assert capsys.readouterr().out.startswith(f"✓ check_{name} passed (")


@pytest.mark.parametrize("name", NAMES)
def test_other_seed_passes_and_strict_raises(name, capsys):
    check = getattr(ex, f"check_{name}")
    assert check(getattr(sol, name), seed=7, strict=True) is True
    with pytest.raises(ex.ExerciseError, match="failed on case 1"):
        check(lambda *a: torch.zeros(3), strict=True)


def test_error_in_learner_code_is_reported_with_its_line(capsys):
    def broken(W, b, x):
        return W @ x  # [inst, d_hidden, feat] @ [inst, batch, feat]: wrong shapes
    msg = rejected(capsys, ex.check_tms_forward, broken, "your function raised RuntimeError", "return W @ x", "hint:")
    assert "Traceback" not in msg


def test_error_inside_torch_points_at_the_learners_line(capsys):
    def broken(x, W_enc, b_enc, W_dec):
        codes = torch.einsum("bd,isd->ibs", x, W_enc.transpose(1, 2))  # d and d_sae swapped
        return codes, codes
    rejected(capsys, ex.check_sae_forward, broken, 'codes = torch.einsum("bd,isd->ibs", x, W_enc.transpose(1, 2))')


def test_builtin_that_raises_is_reported(capsys):
    rejected(capsys, ex.check_topk, torch.relu, "your function raised TypeError")


def test_not_a_function_is_a_clear_error():
    with pytest.raises(TypeError, match="fn must be a function"):
        ex.check_mmcs(0.5)


def test_same_seed_same_message(capsys):
    wrong = lambda W: W / W.norm(dim=-2, keepdim=True)  # noqa: E731
    ex.check_decoder_renorm(wrong)
    first = capsys.readouterr().out
    ex.check_decoder_renorm(wrong)
    assert capsys.readouterr().out == first


# --- typical wrong answers are rejected, and the message names the mistake --------------------------------------------

def test_tms_forward_rejects(capsys):
    def no_relu(W, b, x):
        return torch.einsum("ihf,ibh->ibf", W, torch.einsum("ihf,ibf->ibh", W, x)) + b[:, None]

    def bias_after(W, b, x):
        return torch.relu(torch.einsum("ihf,ibh->ibf", W, torch.einsum("ihf,ibf->ibh", W, x))) + b[:, None]

    def transposed_output(W, b, x):
        return sol.tms_forward(W, b, x).transpose(0, 1)

    rejected(capsys, ex.check_tms_forward, no_relu, "output 'x_prime [inst, batch, feat]'", "expected", "got", "max abs error", "ReLU")
    rejected(capsys, ex.check_tms_forward, bias_after, "before the ReLU")
    rejected(capsys, ex.check_tms_forward, lambda W, b, x: torch.relu(torch.einsum("ihf,ibh->ibf", W, torch.einsum(
        "ihf,ibf->ibh", W, x))), "left out the bias")
    rejected(capsys, ex.check_tms_forward, transposed_output,
             "output 'x_prime [inst, batch, feat]': shape: expected (1, 8, 5), got (8, 1, 5)")


def test_tms_loss_rejects(capsys):
    def no_importance(x, x_hat, importance):
        return ((x - x_hat) ** 2).mean(dim=(1, 2))

    def summed_features(x, x_hat, importance):
        return (importance[:, None] * (x - x_hat) ** 2).sum(-1).mean(-1)

    def scalar(x, x_hat, importance):
        return (importance[:, None] * (x - x_hat) ** 2).mean()

    rejected(capsys, ex.check_tms_loss, no_importance, "importance")
    rejected(capsys, ex.check_tms_loss, summed_features, "summed over features", "divide by feat")
    rejected(capsys, ex.check_tms_loss, scalar, "shape: expected (3,), got ()", "one loss per instance")


def test_dimensionality_rejects(capsys):
    def unnormalised(W):  # Σ_j (W_i · W_j)² instead of Σ_j (Ŵ_i · W_j)²
        gram = W.transpose(1, 2) @ W
        return W.norm(dim=1) ** 2 / (gram ** 2).sum(-1)

    def nan_for_zero(W):
        Wn = W / W.norm(dim=1, keepdim=True)
        return W.norm(dim=1) ** 2 / ((Wn.transpose(1, 2) @ W) ** 2).sum(-1)

    rejected(capsys, ex.check_dimensionality, unnormalised, "normalise W_i")
    rejected(capsys, ex.check_dimensionality, nan_for_zero, "NaN", "D_i = 0")


def test_sae_forward_rejects(capsys):
    def no_relu(x, W_enc, b_enc, W_dec):
        codes = torch.einsum("bd,isd->ibs", x, W_enc) + b_enc[:, None]
        return torch.einsum("ibs,isd->ibd", codes, W_dec), codes

    def tied(x, W_enc, b_enc, W_dec):
        codes = torch.relu(torch.einsum("bd,isd->ibs", x, W_enc) + b_enc[:, None])
        return torch.einsum("ibs,isd->ibd", codes, W_enc), codes

    def no_bias(x, W_enc, b_enc, W_dec):
        return sol.sae_forward(x, W_enc, torch.zeros_like(b_enc), W_dec)

    rejected(capsys, ex.check_sae_forward, no_relu, "output 'x_hat [inst, batch, d]'", "ReLU")
    rejected(capsys, ex.check_sae_forward, tied, "output 'x_hat [inst, batch, d]'", "untied")
    rejected(capsys, ex.check_sae_forward, no_bias, "encoder has a bias")
    rejected(capsys, ex.check_sae_forward, lambda *a: sol.sae_forward(*a)[0], "expected 2 outputs, got 1")


def test_l1_loss_rejects_summed_l1(capsys):
    def summed(x, x_hat, codes, alpha):
        return ((x - x_hat) ** 2).mean(dim=(1, 2)) + alpha * codes.abs().sum(-1).mean(-1)

    def mse_summed_over_d(x, x_hat, codes, alpha):
        return ((x - x_hat) ** 2).sum(-1).mean(-1) + alpha * codes.mean(dim=(1, 2))

    rejected(capsys, ex.check_l1_loss, summed, "summed the L1 over latents", "mean over latents")
    rejected(capsys, ex.check_l1_loss, mse_summed_over_d, "you summed over d")


def test_decoder_renorm_rejects(capsys):
    rejected(capsys, ex.check_decoder_renorm, lambda W: W, "forgot to renormalise")
    rejected(capsys, ex.check_decoder_renorm, lambda W: W / W.norm(dim=1, keepdim=True), "not over d_sae")
    rejected(capsys, ex.check_decoder_renorm, lambda W: W / W.norm(dim=-1, keepdim=True), "zero row", "NaN")

    def in_place(W):  # writing into the input and returning nothing is accepted
        W /= W.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    assert ex.check_decoder_renorm(in_place) is True


def test_mmcs_rejects(capsys):
    unit = lambda v: v / v.norm(dim=-1, keepdim=True)  # noqa: E731
    rejected(capsys, ex.check_mmcs, lambda t, l_: float((unit(t) @ unit(l_).T).max(dim=0).values.mean()),
             "reverse direction")
    rejected(capsys, ex.check_mmcs, lambda t, l_: float((t @ l_.T).max(dim=1).values.mean()), "divide every row by its norm")
    rejected(capsys, ex.check_mmcs, lambda t, l_: float((unit(t) @ unit(l_).T).abs().max(dim=1).values.mean()),
             "signed cosines")


def test_mcc_rejects_plain_max(capsys):
    unit = lambda v: v / v.norm(dim=-1, keepdim=True)  # noqa: E731

    def plain_max(t, l_):
        return float((unit(t) @ unit(l_).T).abs().max(dim=1).values.mean())

    def signed(t, l_):
        s = (unit(t) @ unit(l_).T).numpy()
        r, c = linear_sum_assignment(s, maximize=True)
        return float(s[r, c].mean())

    def over_n_ref(t, l_):
        s = (unit(t) @ unit(l_).T).abs().numpy()
        r, c = linear_sum_assignment(s, maximize=True)
        return float(s[r, c].sum() / len(t))

    rejected(capsys, ex.check_mcc, plain_max, "one-to-one", "linear_sum_assignment")
    rejected(capsys, ex.check_mcc, signed, "|cos|")
    rejected(capsys, ex.check_mcc, over_n_ref, "min(n_ref, d_sae)")


def test_topk_rejects(capsys):
    def no_relu(pre, k):
        v, i = pre.topk(k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, i, v)

    rejected(capsys, ex.check_topk, no_relu, "ReLU")
    rejected(capsys, ex.check_topk, lambda pre, k: sol.topk(pre, k - 1) if k > 1 else pre * 0, "you kept k − 1")
    rejected(capsys, ex.check_topk, lambda pre, k: sol.topk(pre, min(k + 1, pre.shape[-1])), "you kept k + 1")


def test_auxk_rejects(capsys):
    def unnormalised(x, x_hat, pre, W_dec, dead, aux_k):
        e = x - x_hat
        return sol.auxk_loss(x, x_hat, pre, W_dec, dead, aux_k) * e.pow(2).sum(-1).mean(-1)

    def all_latents(x, x_hat, pre, W_dec, dead, aux_k):
        return sol.auxk_loss(x, x_hat, pre, W_dec, torch.ones_like(dead), aux_k)

    msg = rejected(capsys, ex.check_auxk_loss, all_latents, "only dead latents")
    assert "output 'aux [inst]'" in msg
    rejected(capsys, ex.check_auxk_loss, unnormalised, "failed on case")


# --- the reference solutions agree with the kit ------------------------------------------------------------------------

def test_tms_references_agree_with_kit():
    g = torch.Generator().manual_seed(0)
    W, b = torch.randn(3, 2, 5, generator=g), torch.randn(3, 5, generator=g)
    x, imp = torch.rand(3, 8, 5, generator=g), torch.rand(3, 5, generator=g)
    assert torch.allclose(sol.tms_forward(W, b, x), kit_tms_forward(W, b, x), atol=1e-6)
    assert torch.allclose(sol.tms_loss(x, sol.tms_forward(W, b, x), imp), kit_tms_loss(W, b, x, imp), atol=1e-6)
    W[1, :, 2] = 0.0
    assert torch.allclose(sol.dimensionality(W), sk.feature_dimensionality(W), atol=1e-5)


def _sae_with_random_params(**kw) -> sk.SAE:
    sae = sk.SAE(sk.SAEConfig(d=6, d_sae=10, seed=2, **kw))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        sae.b_enc.normal_(generator=g)
        sae.W_dec.mul_(torch.rand(sae.W_dec.shape[:2], generator=g)[..., None] + 0.5)
    return sae


def test_sae_references_agree_with_kit():
    sae = _sae_with_random_params(l1_coeff=[0.03, 0.3, 1.0])
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(0))
    out = sae(x)
    x_hat, codes = sol.sae_forward(x, sae.W_enc.detach(), sae.b_enc.detach(), sae.W_dec.detach())
    assert torch.allclose(x_hat, out.x_hat, atol=1e-5) and torch.allclose(codes, out.codes, atol=1e-6)
    assert torch.allclose(sol.l1_loss(x, x_hat, codes, sae.l1_coeff), out.loss.detach(), atol=1e-5)
    renormed = sol.decoder_renorm(sae.W_dec.detach())
    sae.normalize_decoder_()
    assert torch.allclose(renormed, sae.W_dec.detach(), atol=1e-6)


def test_topk_and_auxk_references_agree_with_kit():
    sae = _sae_with_random_params(architecture="topk", k=3, aux_k=4, dead_after=5, n_inst=2)
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
    pre = torch.einsum("bd,isd->ibs", x, sae.W_enc.detach()) + sae.b_enc.detach()[:, None]
    assert torch.allclose(sol.topk(pre, 3), sae.encode(x).detach(), atol=1e-6)
    with torch.no_grad():  # latents 0-5 of instance 0 and 7 of instance 1 have not fired for 10 samples: dead
        sae.since_fired[0, :6] = 10
        sae.since_fired[1, 7] = 10
    dead = sae.dead_mask()
    out = sae(x)
    aux = sol.auxk_loss(x, out.x_hat.detach(), pre, sae.W_dec.detach(), dead, 4)
    assert torch.allclose(aux, out.aux.detach(), atol=1e-5) and (aux > 0).all()


def test_metric_references_agree_with_kit():
    g = torch.Generator().manual_seed(3)
    truth, learned = torch.randn(6, 5, generator=g), torch.randn(9, 5, generator=g)
    learned[:3] = -truth[:3]
    assert sol.mmcs(truth, learned) == pytest.approx(sk.mmcs(truth, learned), abs=1e-6)
    assert sol.mcc(truth, learned) == pytest.approx(sk.mcc(truth, learned), abs=1e-6)
    assert sol.mcc(truth, learned[:4]) == pytest.approx(sk.mcc(truth, learned[:4]), abs=1e-6)


def _captured_checks(monkeypatch) -> dict:
    """The Check object each checker builds (run_checks replaced by a recorder), by checker name."""
    import sae_kit.exercises.absorption_checks as a
    import sae_kit.exercises.metric_checks as m
    import sae_kit.exercises.sae_checks as s
    import sae_kit.exercises.toy_checks as t
    seen = {}
    for mod in (a, m, s, t):
        monkeypatch.setattr(mod, "run_checks", lambda check, fn, strict: seen.setdefault(check.title, check))
    for name in NAMES:
        getattr(ex, f"check_{name}")(getattr(sol, name))
    monkeypatch.undo()
    return seen


def test_every_known_mistake_is_rejected_and_named_by_its_own_hint(monkeypatch, capsys):
    """Each checker's catalogue of wrong answers: fed back as the learner's function, each fails with its own hint
    (so no two mistakes are indistinguishable on every case, and none equals the reference)."""
    checks = _captured_checks(monkeypatch)
    assert len(checks) == len(NAMES)
    for title, check in checks.items():
        for mistake in check.mistakes:
            assert getattr(ex, title)(mistake.fn) is False, (title, mistake.hint)
            msg = capsys.readouterr().out
            assert mistake.hint in msg, f"{title}: expected hint {mistake.hint!r}, got:\n{msg}"


def test_not_yet_written_function(capsys):
    def todo(W_dec):
        raise NotImplementedError
    rejected(capsys, ex.check_decoder_renorm, todo, "not written yet")


def test_matryoshka_loss_rejects_and_matches_the_kit(capsys):
    from sae_kit.exercises.absorption_checks import _blocks

    rejected(capsys, ex.check_matryoshka_loss, lambda c, W, x, p: sol.matryoshka_loss(c, W, x, p) * len(p), "you summed")
    rejected(capsys, ex.check_matryoshka_loss, lambda c, W, x, p: sol.matryoshka_loss(c, W, x, p[-1:]), "plain MSE")
    rejected(capsys, ex.check_matryoshka_loss, _blocks, "each block")
    g = torch.Generator().manual_seed(0)
    codes, W, x = torch.rand(2, 5, 6, generator=g), torch.randn(2, 6, 3, generator=g), torch.randn(5, 3, generator=g)
    assert torch.allclose(sol.matryoshka_loss(codes, W, x, [2, 6]), sk.matryoshka_loss(codes, W, x, [2, 6]))
