"""Cheap structural metrics of backbone sets: CA geometry, Rg, DSSP, TM-score, Ramachandran.

The protein benchmark reports the same metrics on samples, real
chains and two baselines; they are defined once here (and tested on known answers in
tests/proteins/test_protein_metrics.py). Inputs are numpy arrays in Angstrom:
``ca`` ``(L, 3)``, ``atoms`` ``(L, 4, 3)`` (N, CA, C, O).

* ``ca_ca_mad`` = mean_i |d(CA_i, CA_{i+1}) - 3.80|; ``ca_ca_within_0.1`` the fraction
  of those distances within 0.1 A of 3.80;
* ``clash_rate`` = #{i < j, j - i > 2, d_ij < 3.0} / #{i < j, j - i > 2} (per pair);
* ``rg_ratio`` = Rg / (2.2 N^0.38), Rg the CA radius of gyration;
* ``helix`` / ``strand`` / ``coil``: fractions of residues by pydssp's 3-class DSSP;
* ``tm_diversity``: mean pairwise TM-score (tmtools, normalised by the first chain);
* ``tm_novelty``: mean over structures of the max TM-score to a reference set;
* ``rama_distance``: Jensen-Shannon divergence (nats) of the phi/psi histograms
  (36 x 36 bins of 10 degrees, add-1e-6 smoothing) of a set and the real set.

Optional packages (pydssp, tmtools) missing -> the metric is None and
:data:`UNAVAILABLE` says why; no number is invented.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "UNAVAILABLE",
    "ca_ca_stats",
    "clash_rate",
    "dihedrals",
    "dssp_fractions",
    "dssp_labels",
    "js_divergence",
    "rama_histogram",
    "random_walk",
    "rg_ratio",
    "set_metrics",
    "tm_score",
]

CA_CA = 3.80
UNAVAILABLE: dict[str, str] = {}
try:
    import pydssp
except ImportError as err:  # pragma: no cover - depends on the environment
    pydssp = None
    UNAVAILABLE["dssp"] = f"pydssp not importable ({err}); helix/strand/coil are None"
try:
    import tmtools
except ImportError as err:  # pragma: no cover - depends on the environment
    tmtools = None
    UNAVAILABLE["tm"] = f"tmtools not importable ({err}); tm_diversity/tm_novelty are None"


def ca_ca_stats(ca: np.ndarray) -> tuple[float, float]:
    """``(mean |d_{i,i+1} - 3.80|, fraction within 0.1 A)`` of a CA trace ``(L, 3)``."""
    d = np.linalg.norm(np.diff(ca, axis=0), axis=-1)
    dev = np.abs(d - CA_CA)
    return float(dev.mean()), float((dev <= 0.1).mean())


def clash_rate(ca: np.ndarray, cutoff: float = 3.0, min_sep: int = 3) -> float:
    """Fraction of CA pairs with ``|i - j| >= min_sep`` closer than ``cutoff`` A."""
    d = np.linalg.norm(ca[:, None] - ca[None], axis=-1)
    i, j = np.triu_indices(len(ca), k=min_sep)
    return float((d[i, j] < cutoff).mean()) if len(i) else 0.0


def rg_ratio(ca: np.ndarray) -> float:
    """CA radius of gyration over the compact-globule rule 2.2 N^0.38 A."""
    rg = np.sqrt(((ca - ca.mean(0)) ** 2).sum(-1).mean())
    return float(rg / (2.2 * len(ca) ** 0.38))


def dssp_labels(atoms: np.ndarray) -> np.ndarray | None:
    """pydssp's 3-class labels (``'H'``, ``'E'``, ``'-'``) of backbone atoms ``(L, 4, 3)``."""
    if pydssp is None:
        return None
    return np.asarray(pydssp.assign(np.asarray(atoms, dtype=np.float64), out_type="c3"))


def dssp_fractions(atoms: np.ndarray) -> tuple[float, float, float] | None:
    """``(helix, strand, coil)`` fractions of one chain, or None without pydssp."""
    lab = dssp_labels(atoms)
    if lab is None:
        return None
    return float((lab == "H").mean()), float((lab == "E").mean()), float((lab == "-").mean())


def tm_score(a: np.ndarray, b: np.ndarray) -> float | None:
    """TM-score of CA traces ``a`` and ``b`` normalised by ``len(a)`` (tmtools), or None."""
    if tmtools is None:
        return None
    seq_a, seq_b = "G" * len(a), "G" * len(b)
    res = tmtools.tm_align(
        np.ascontiguousarray(a, np.float64), np.ascontiguousarray(b, np.float64), seq_a, seq_b
    )
    return float(res.tm_norm_chain1)


def _dihedral(p0, p1, p2, p3) -> np.ndarray:
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - (b0 * b1).sum(-1, keepdims=True) * b1
    w = b2 - (b2 * b1).sum(-1, keepdims=True) * b1
    x = (v * w).sum(-1)
    y = (np.cross(b1, v) * w).sum(-1)
    return np.degrees(np.arctan2(y, x))


def dihedrals(atoms: np.ndarray) -> np.ndarray:
    """``(L - 2, 2)`` phi/psi (degrees) of residues 1..L-2 from N, CA, C ``(L, 4, 3)``."""
    n, ca, c = atoms[:, 0], atoms[:, 1], atoms[:, 2]
    phi = _dihedral(c[:-2], n[1:-1], ca[1:-1], c[1:-1])
    psi = _dihedral(n[1:-1], ca[1:-1], c[1:-1], n[2:])
    return np.stack([phi, psi], -1)


def rama_histogram(angles: np.ndarray, bins: int = 36) -> np.ndarray:
    """Normalised ``(bins, bins)`` histogram of phi/psi ``(M, 2)`` on [-180, 180)^2."""
    h, _, _ = np.histogram2d(
        angles[:, 0], angles[:, 1], bins=bins, range=[[-180, 180], [-180, 180]]
    )
    h = h + 1e-6
    return h / h.sum()


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (nats) of two normalised histograms; in [0, ln 2]."""
    m = 0.5 * (p + q)
    return float(0.5 * (p * np.log(p / m)).sum() + 0.5 * (q * np.log(q / m)).sum())


def random_walk(n: int, rng: np.random.Generator) -> np.ndarray:
    """An ideal CA walk ``(n, 3)``: steps of exactly 3.8 A in uniform random directions."""
    step = rng.standard_normal((n - 1, 3))
    step = CA_CA * step / np.linalg.norm(step, axis=-1, keepdims=True)
    return np.concatenate([np.zeros((1, 3)), np.cumsum(step, 0)])


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def set_metrics(
    atoms: list[np.ndarray],
    *,
    rama_ref: np.ndarray | None = None,
    novelty_ref: list[np.ndarray] | None = None,
    tm: bool = True,
) -> dict:
    """The metrics of the module docstring averaged over one set of chains ``(L_i, 4, 3)``.

    Per-chain values are averaged over chains; ``tm_diversity`` over all pairs (needs >= 2
    chains); ``tm_novelty`` against ``novelty_ref`` CA traces; ``rama_distance`` against
    the reference histogram ``rama_ref`` (None when not given).
    """
    cas = [a[:, 1] for a in atoms]
    mad, within = zip(*(ca_ca_stats(c) for c in cas))
    ss = [dssp_fractions(a) for a in atoms]
    out = {
        "n": len(atoms),
        "ca_ca_mad": _mean(list(mad)),
        "ca_ca_within_0.1": _mean(list(within)),
        "clash_rate": _mean([clash_rate(c) for c in cas]),
        "rg_ratio": _mean([rg_ratio(c) for c in cas]),
    }
    for k, name in enumerate(("helix", "strand", "coil")):
        out[name] = _mean([s[k] for s in ss if s is not None])
    div = nov = None
    if tm and tmtools is not None:
        pairs = [tm_score(cas[i], cas[j]) for i in range(len(cas)) for j in range(i + 1, len(cas))]
        div = _mean(pairs)
        if novelty_ref:
            nov = _mean([max(tm_score(c, r) for r in novelty_ref) for c in cas])
    out["tm_diversity"], out["tm_novelty"] = div, nov
    ang = np.concatenate([dihedrals(a) for a in atoms])
    out["rama_distance"] = (
        None if rama_ref is None else js_divergence(rama_histogram(ang), rama_ref)
    )
    return out
