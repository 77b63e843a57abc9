"""The protein benchmark's acceptance checks: each catches a sample set that misses it."""

from __future__ import annotations

from benchmarks.protein.report import target_rows


def _row(mad, clash, rg, coil):
    return {"ca_ca_mad": mad, "clash_rate": clash, "rg_ratio": rg, "coil": coil}


def _doc(samples):
    return {
        "samples": samples,
        "real": _row(0.05, 0.0, 1.20, 0.54),
        "prior": _row(9.0, 0.02, 1.9, 1.0),
        "random_walk": _row(0.0, 0.01, 1.5, 1.0),
    }


def _met(samples) -> dict:
    return {t["metric"]: t["met"] for t in target_rows(_doc(samples))}


def test_a_set_like_the_real_chains_meets_every_check():
    assert _met(_row(0.10, 5e-4, 1.25, 0.6)) == dict.fromkeys(
        ("ca_ca_mad", "clash_rate", "rg_ratio", "non-coil"), True
    )


def test_each_check_fails_on_the_metric_it_checks_and_only_that_one():
    good = _row(0.10, 5e-4, 1.25, 0.6)
    broken = {
        "ca_ca_mad": {**good, "ca_ca_mad": 0.2},
        "clash_rate": {**good, "clash_rate": 2e-3},
        "rg_ratio": {**good, "rg_ratio": 1.6},
        "non-coil": {**good, "coil": 0.8},
    }
    for metric, samples in broken.items():
        met = _met(samples)
        assert met[metric] is False, metric
        assert all(v for k, v in met.items() if k != metric), (metric, met)


def test_the_random_walk_is_not_a_bar_for_ca_ca_but_is_for_clashes():
    # the walk's CA-CA deviation is 0 by construction: samples at 0.10 still pass
    assert _met(_row(0.10, 5e-4, 1.25, 0.6))["ca_ca_mad"]
    # a clash rate below 1e-3 but above a (hypothetical) walk at 1e-4 is not "better"
    doc = _doc(_row(0.10, 5e-4, 1.25, 0.6))
    doc["random_walk"]["clash_rate"] = 1e-4
    assert not {t["metric"]: t["met"] for t in target_rows(doc)}["clash_rate"]
