"""Bad input is refused with the field's name (NaN, ±inf, sizes beyond the memory limit); the results table shows
every figure whole."""

import math

import pytest

import sae_kit as sk
from sae_kit._util import MAX_TENSOR_BYTES, check_memory, check_range


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "0.1", True, None])
def test_check_range_refuses_nan_inf_and_non_numbers(value):
    with pytest.raises(ValueError, match="lr must be a number"):
        check_range("lr", value, 0.0, math.inf, low_open=True, high_open=True)


def test_check_range_accepts_finite_values_inside():
    check_range("lr", 1e-3, 0.0, math.inf, low_open=True, high_open=True)
    check_range("p", 1.0, 0.0, 1.0)


def test_check_memory_names_the_largest_field_and_the_memory():
    check_memory({"n": 1000, "d": 1000}, 1e6, "weights")
    with pytest.raises(ValueError, match=r"n=1000000 \(with d=100000\) would need [\d,.]+ GiB for weights"):
        check_memory({"n": 10**6, "d": 10**5}, 1e11, "weights")
    assert MAX_TENSOR_BYTES == 8 * 2**30


@pytest.mark.parametrize("kw, field", [
    (dict(d=64, d_sae=10**10), "d_sae"),
    (dict(d=10**9, d_sae=64), "d"),
    (dict(d=64, d_sae=64, l1_coeff=float("nan")), "l1_coeff"),
])
def test_sae_config_refuses_nan_and_oversized(kw, field):
    with pytest.raises(ValueError, match=field):
        sk.SAEConfig(**kw)


def test_summary_table_shows_long_figures_whole():
    long = "MMCS above chance " + ", ".join(f"{0.01 * i:.2f} at n/d = {2 ** i}" for i in range(12)) + " END"
    res = [{"notebook": "02_x", "claims": [
        {"id": "a", "published": "p", "ours": long, "replicated": True},
        {"id": "b", "published": "a published figure " * 6, "ours": "short", "replicated": False}]}]
    table = sk.report.summary_table(res, width=40)
    assert "END" in table and "NO" in table and "yes" in table
    lines = table.splitlines()
    assert len(lines) > 2 + 2  # header, rule, and the long cells wrapped onto more lines than one per claim
    start = lines[0].index("ours")
    column = " ".join(line[start:start + 40].strip() for line in lines[2:])
    assert long in column  # the whole figure, read down its column
    with pytest.raises(ValueError, match="width"):
        sk.report.summary_table(res, width=0)
