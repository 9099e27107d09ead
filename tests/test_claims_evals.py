"""Notebook 08's criteria (sae_kit.claims.evals): each with a hand-made input that passes and one that must fail."""

import math

import pytest

from sae_kit.claims import evals as ev


def figures(**kw):
    """Figures with which every claim of notebook 08 replicates; kw replaces a top-level entry."""
    f = {"core": {"attn": {"ce_recovered_zero": 0.93}}, "planted": {"recovery": 1.0},
         "scoring": {"random": {"balanced_accuracy": 0.80}, "neighbours": {"balanced_accuracy": 0.70}},
         "deep": {"fve": [[0.6, 0.7], [0.65, 0.75], [0.7, 0.8]], "dead_fraction": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.4]]},
         "undertraining": {"lm": {"multipliers": [1, 3, 10], "n_features": [4096, 2048, 1024], "exact": [True, True, True]}}}
    return {**f, **kw}


def test_every_claim_passes_on_a_passing_input():
    claims = ev.eval_claims(figures())
    assert [c.id for c in claims] == list(ev.EVAL_CRITERIA) and all(c.replicated for c in claims)
    assert all(c.source.count("https://") >= 1 for c in claims)


@pytest.mark.parametrize("claim_id, kw", [
    ("attn_loss_recovered", dict(core={"attn": {"ce_recovered_zero": 0.79}})),
    ("attn_loss_recovered", dict(core={"attn": {"ce_recovered_zero": math.nan}})),
    ("dfa_planted_heads", dict(planted={"recovery": 0.85})),
    ("neighbour_negatives", dict(scoring={"random": {"balanced_accuracy": 0.7}, "neighbours": {"balanced_accuracy": 0.7}})),
    ("deep_frontier", dict(deep={"fve": [[0.6, 0.7], [0.7, 0.69]], "dead_fraction": [[0.1], [0.2]]})),
    ("deep_dead", dict(deep={"fve": [[0.6], [0.7]], "dead_fraction": [[0.3, 0.1], [0.1, 0.2]]})),
    ("undertraining", dict(undertraining={"lm": {"multipliers": [1, 10], "n_features": [2048, 4096], "exact": [True, True]}})),
    ("undertraining", dict(undertraining={"lm": {"multipliers": [1, 10], "n_features": [4096, 2048], "exact": [True, False]}})),
])
def test_each_claim_fails_where_it_should(claim_id, kw):
    claims = {c.id: c.replicated for c in ev.eval_claims(figures(**kw))}
    assert not claims[claim_id]
    assert sum(not v for v in claims.values()) == 1  # only that one


def test_distance_to_the_published_interval_and_bad_input():
    assert ev.log2_distance(700) == 0 and ev.log2_distance(2048) == 1.0 and ev.log2_distance(128) == 2.0
    assert ev.moves_toward_criterion(4096, 2048, True) and ev.moves_toward_criterion(None, 512, True)
    assert ev.moves_toward_criterion(1024, 512, True)  # inside at both ends: still there
    assert not ev.moves_toward_criterion(2048, None, False) and not ev.moves_toward_criterion(2048, 4096, True)
    with pytest.raises(ValueError, match="n must be"):
        ev.log2_distance(0)
    with pytest.raises(ValueError, match="fve_by_depth"):
        ev.deep_frontier_criterion([[0.5]])
    with pytest.raises(ValueError, match="threshold"):
        ev.loss_recovered_criterion(0.9, threshold=2.0)
