"""Speed rows for SO(3)/SE(3): exp and log at batch 1e6 vs roma and e3nn, SE(3)^128 paths.

``rows(quick)`` is collected by ``benchmarks/speed/benchmark.py``; measure these rows alone with
``python -m benchmarks.speed --only lie [--quick]``.

Protocol: CPU, float32, the torch threads of the run (recorded per row), seed 0. Inputs
are rotation vectors with angles uniform in [0, pi) plus adversarial angles (0, 1e-8,
1e-4, pi - 1e-6, pi); log inputs are their float32 matrices. Ours and the peer run
alternately on the same tensors (benchmarks.common.timing: one warm-up call each, fixed order);
each reports the best of ``repeats`` wall times (the development machine is shared, so
the minimum is the least contended figure; medians are kept as ``ours_median`` /
``peer_median``). ``ratio = peer_time / our_time`` (> 1: we are faster). ``max_error``
(ours) and ``peer_max_error`` are the largest absolute entry errors against a float64
reference (scipy's Rotation, independent of our code); at angles within
1e-3 of pi, where +w and -w are both a correct log, the log error is taken to the
nearer of the two. The e3nn rows time the rotation-vector API built from e3nn's axis-angle
functions (norm and division included), as a user starting from rotation vectors would.
Every exp/log row also carries a no-NaN sweep: values and gradients of exp and log in
float32 and float64 over ``nan_sweep_count`` random plus adversarial inputs.
"""

from __future__ import annotations

import math

import torch

from benchmarks.common.timing import Timing, time_blocks
from manifold_fm.lie import rotation_angle, so3_exp, so3_log
from manifold_fm.spaces.se3 import SE3

ADVERSARIAL = [0.0, 1e-8, 1e-4, math.pi - 1e-6, math.pi]


def make_rotvecs(n: int, seed: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """n rotation vectors: 1% adversarial angles, the rest uniform in [0, pi). ``(n, 3)``."""
    g = torch.Generator().manual_seed(seed)
    ang = torch.rand(n, generator=g, dtype=torch.float64) * math.pi
    k = max(len(ADVERSARIAL), n // 100)
    ang[:k] = torch.tensor(ADVERSARIAL, dtype=torch.float64).repeat(k // len(ADVERSARIAL) + 1)[:k]
    ax = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    return (ax * ang[:, None]).to(dtype)


def _time_pair(ours, peer, arg, repeats: int) -> tuple[Timing, Timing]:
    """Timings of ``ours(arg)`` and ``peer(arg)``: one warm-up each, then alternating calls."""
    res = time_blocks(
        {"ours": lambda: ours(arg), "peer": lambda: peer(arg)},
        blocks=repeats,
        warmup=1,
        rotate=False,
    )
    return res["ours"], res["peer"]


def _times(t_ours: Timing, t_peer: Timing) -> dict:
    """Best-block times (ms) as ours / peer_value, their medians, ratio and threads."""
    ours, peer = 1e3 * t_ours.best(), 1e3 * t_peer.best()
    return {
        "ours": ours,
        "peer_value": peer,
        "ratio": peer / ours,
        "ours_median": 1e3 * t_ours.median(),
        "peer_median": 1e3 * t_peer.median(),
        "threads": t_ours.threads,
    }


def _log_error(w: torch.Tensor, ref: torch.Tensor) -> float:
    err = (w.double() - ref).abs().amax(-1)
    anti = (w.double() + ref).abs().amax(-1)
    near_pi = ref.norm(dim=-1) > math.pi - 1e-3
    return float(torch.where(near_pi, torch.minimum(err, anti), err).max())


def _peers():
    import roma
    from e3nn import o3

    def e3nn_exp(w):
        angle = w.norm(dim=-1)
        axis = w / angle.clamp_min(1e-30)[:, None]
        return o3.axis_angle_to_matrix(axis, angle)

    def e3nn_log(r):
        axis, angle = o3.matrix_to_axis_angle(r)
        return axis * angle[:, None]

    return {
        "roma": (roma.rotvec_to_rotmat, roma.rotmat_to_rotvec),
        "e3nn": (e3nn_exp, e3nn_log),
    }


def nan_sweep(n: int, seed: int = 1) -> dict:
    """Count non-finite values and gradients of exp, log and angle over n inputs per dtype."""
    bad_val = bad_grad = 0
    for dtype in (torch.float32, torch.float64):
        w = make_rotvecs(n, seed, dtype).requires_grad_(True)
        r = so3_exp(w)
        r_in = so3_exp(w.detach()).requires_grad_(True)
        v = so3_log(r_in)
        a = rotation_angle(r_in)
        bad_val += int(
            (~torch.isfinite(r)).any((-1, -2)).sum() + (~torch.isfinite(v)).any(-1).sum()
        )
        bad_val += int((~torch.isfinite(a)).sum())
        (r.sum() + so3_log(r).sum()).backward()
        (v.sum() + a.sum()).backward()
        bad_grad += int((~torch.isfinite(w.grad)).any(-1).sum())
        bad_grad += int((~torch.isfinite(r_in.grad)).any((-1, -2)).sum())
    return {
        "nan_sweep_count": 2 * n,
        "nan_sweep_nonfinite_values": bad_val,
        "nan_sweep_nonfinite_grads": bad_grad,
    }


def _se3_path_rows(quick: bool, repeats: int) -> list[dict]:
    import roma

    n_frames, batch = 128, 8 if quick else 64
    space = SE3(n_frames=n_frames)
    g = torch.Generator().manual_seed(0)
    x0 = space.sample_prior(batch, generator=g)
    x1 = space.sample_prior(batch, generator=g)
    t = torch.rand(batch, generator=g)

    def ours(_):
        return space.path(x0, x1, t)

    def naive(_):
        (r0, t0), (r1, t1) = SE3.split(x0), SE3.split(x1)
        w = roma.rotmat_to_rotvec(r0.transpose(-1, -2) @ r1)
        r_t = r0 @ roma.rotvec_to_rotmat(t[:, None, None] * w)
        return SE3.join(r_t, t0 + t[:, None, None] * (t1 - t0)), torch.cat([w, t1 - t0], -1)

    t_ours, t_peer = _time_pair(ours, naive, None, repeats)
    ref_x, _ = naive(None)
    err = float((ours(None).x_t.double() - ref_x.double()).abs().max())
    times = _times(t_ours, t_peer)
    return [
        {
            "name": "geodesic_path_se3_128",
            "unit": "ms",
            "ours": times.pop("ours"),
            "peer": "roma (naive composed path: rotmat_to_rotvec, rotvec_to_rotmat, lerp)",
            "peer_value": times.pop("peer_value"),
            "ratio": times.pop("ratio"),
            "batch": batch,
            "n_frames": n_frames,
            "dtype": "float32",
            "device": "cpu",
            "max_abs_diff_vs_peer": err,
            **times,
            "note": "SE3.path without mask, linear schedule",
        }
    ]


def _rotation_row(name: str, peer: str, times: dict, errors: tuple[float, float], common):
    """An exp/log row: timings, our and the peer's max error, the shared protocol fields."""
    return {
        "name": name,
        "unit": "ms",
        "ours": times["ours"],
        "peer": peer,
        "peer_value": times["peer_value"],
        "ratio": times["ratio"],
        "max_error": errors[0],
        "peer_max_error": errors[1],
        **common,
        "ours_median": times["ours_median"],
        "peer_median": times["peer_median"],
    }


def rows(quick: bool = False) -> list[dict]:
    """Speed rows (see the module docstring). quick: batch 1e4 and a 1e4 no-NaN sweep."""
    from scipy.spatial.transform import Rotation

    torch.manual_seed(0)
    n = 10_000 if quick else 1_000_000
    repeats = 3 if quick else 7
    w64 = make_rotvecs(n, seed=0)
    w = w64.float()
    ref_rot = Rotation.from_rotvec(w.double().numpy())  # reference of the float32 inputs
    ref_exp = torch.from_numpy(ref_rot.as_matrix())
    r = ref_exp.float()
    ref_log = torch.from_numpy(Rotation.from_matrix(r.double().numpy()).as_rotvec())
    sweep = nan_sweep(n)
    common = {
        "batch": n,
        "dtype": "float32",
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "seed": 0,
        "repeats": repeats,
        "reference": "scipy Rotation (float64)",
        **sweep,
    }
    out = []
    for peer, (p_exp, p_log) in _peers().items():
        times = _times(*_time_pair(so3_exp, p_exp, w, repeats))
        errors = (
            float((so3_exp(w).double() - ref_exp).abs().max()),
            float((p_exp(w).double() - ref_exp).abs().max()),
        )
        out.append(_rotation_row("so3_exp_1e6", peer, times, errors, common))
        times = _times(*_time_pair(so3_log, p_log, r, repeats))
        errors = (_log_error(so3_log(r), ref_log), _log_error(p_log(r), ref_log))
        out.append(_rotation_row("so3_log_1e6", peer, times, errors, common))
    return out + _se3_path_rows(quick, repeats)
