"""Notebook 07's claims: each criterion passes on a hand-made input that shows the published picture and fails on one
that does not."""

import math

import pytest

from sae_kit import claims as C
from sae_kit.analysis.collapse import PowerLawFit
from sae_kit.claims import next_toy as N


def fit(slope: float) -> PowerLawFit:
    return PowerLawFit(slope, 0.0, slope - 0.1, slope + 0.1, [slope] * 3, 9)


GOOD = dict(probabilities=[1.0, 0.1, 0.01], asymmetric_fraction=[0.1, 0.6, 0.9],
            computing={"mmcs": 0.75, "mcc": 0.7}, plain={"mmcs": 0.92, "mcc": 0.9},
            flat=0.85, matryoshka=0.02, tied=0.05, fits={"mean": fit(0.9), "sum": fit(-0.1)})


def test_every_claim_passes_on_the_published_picture():
    claims = C.next_toy_claims(**GOOD)
    assert [c.id for c in claims] == ["abs_motif", "computing_harder", "absorption_matryoshka", "absorption_tied",
                                      "collapse_law"]
    assert all(c.replicated for c in claims), [(c.id, c.ours) for c in claims]
    assert all(c.source and c.published and c.ours for c in claims)
    assert "https://" in claims[0].source and "https://sparselatents.com/matryoshka.html" in claims[2].source


@pytest.mark.parametrize("claim_id, edit", [
    ("abs_motif", dict(asymmetric_fraction=[0.1, 0.3, 0.4])),  # sparse model not asymmetric enough
    ("abs_motif", dict(asymmetric_fraction=[0.5, 0.6, 0.9])),  # dense model already asymmetric
    ("computing_harder", dict(computing={"mmcs": 0.9, "mcc": 0.9})),  # no gap
    ("computing_harder", dict(computing={"mmcs": 0.3, "mcc": 0.2})),  # gap, but nothing found at all
    ("absorption_matryoshka", dict(matryoshka=0.4)),
    ("absorption_matryoshka absorption_tied", dict(flat=0.2)),  # no absorption to remove
    ("absorption_tied", dict(tied=0.5)),
    ("collapse_law", dict(fits={"mean": fit(0.5), "sum": fit(0.0)})),
    ("collapse_law", dict(fits={"mean": fit(1.0), "sum": fit(0.5)})),
    ("collapse_law", dict(fits={"mean": PowerLawFit(math.nan, math.nan, math.nan, math.nan, [], 0), "sum": fit(0.0)})),
])
def test_each_claim_can_fail(claim_id, edit):
    claims = {c.id: c for c in C.next_toy_claims(**{**GOOD, **edit})}
    failing = claim_id.split()
    assert not any(claims[k].replicated for k in failing), [claims[k].ours for k in failing]
    assert all(c.replicated for k, c in claims.items() if k not in failing)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="computing must hold 'mmcs' and 'mcc'"):
        N.computing_sae_row({"mmcs": 0.5}, {"mmcs": 0.9, "mcc": 0.9})
    with pytest.raises(ValueError, match="flat"):
        N.absorption_rows(1.5, 0.0, 0.0)
    with pytest.raises(ValueError, match="fits must hold both"):
        N.collapse_row({"mean": fit(1.0)})
