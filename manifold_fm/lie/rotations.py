"""Closed-form SO(3) maps that are exact and differentiable at every rotation angle.

One place for the rotation math used by :class:`~manifold_fm.spaces.so3.SO3` and
:class:`~manifold_fm.spaces.se3.SE3`. Shapes: rotation vectors ``(..., 3)``, matrices
``(..., 3, 3)``, quaternions ``(..., 4)`` in **scalar-last** order ``(x, y, z, w)`` (the
convention of scipy and roma).

Numerics (theta = rotation angle):

* ``so3_exp`` (Rodrigues): R = cos(theta) I + A hat(w) + B w w^T with A = sin(theta)/theta,
  B = (1 - cos theta)/theta^2 = 2 sin^2(theta/2)/theta^2 (no cancellation); Taylor series
  in theta^2 for theta^2 < 1e-4, where the next omitted term is below 3e-16.
* ``so3_log``: theta = atan2(|s|, (tr R - 1)/2) with 2 s = vee(R - R^T) (never acos, so no
  NaN from rounding outside [-1, 1]); w = theta / sin(theta) * s with a Taylor branch near 0.
  Where sin(theta) < 0.3 and cos(theta) < 0 (within ~0.3 rad of pi) the skew part is small
  (w = theta / sin(theta) s amplifies its rounding, and vanishes at pi), so the axis n is
  read from the symmetric part, n n^T = ((R + R^T)/2 - cos(theta) I) /
  (1 - cos(theta)), using its largest diagonal row; the sign of n is taken from s (at exactly
  pi both signs are correct and the row's sign is kept). That branch runs only on the
  affected rows.
* Every ``torch.where`` feeds safe values into the branch it discards, so gradients are
  finite (and correct) at theta = 0, 1e-8, pi - 1e-6 and pi.
"""

from __future__ import annotations

import torch
from torch import Tensor

from manifold_fm._math import safe_norm

__all__ = [
    "hat",
    "matrix_to_quat",
    "nearest_rotation",
    "polish_rotation",
    "quat_to_matrix",
    "quat_to_rotvec",
    "random_rotation",
    "rotation_angle",
    "rotvec_to_quat",
    "so3_exp",
    "so3_log",
    "vee",
]

#: Taylor branch of exp/log below this squared angle
_SMALL2 = 1e-4
#: symmetric-part branch of log where sin(theta) < this and cos(theta) < 0
_SIN_PI = 0.3


def _check_last(x: Tensor, shape: tuple[int, ...], name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    k = len(shape)
    if x.dim() < k or tuple(x.shape[x.dim() - k :]) != shape:
        raise ValueError(f"{name}: expected trailing shape {shape}, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")


def hat(w: Tensor) -> Tensor:
    """Skew matrix of a vector: hat(w) v = w x v. ``(..., 3) -> (..., 3, 3)``."""
    _check_last(w, (3,), "hat")
    x, y, z = w.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], -1).reshape(*w.shape[:-1], 3, 3)


def vee(m: Tensor) -> Tensor:
    """Vector of the skew part of a matrix: vee((M - M^T)/2). ``(..., 3, 3) -> (..., 3)``.

    Exact inverse of :func:`hat` on skew matrices.
    """
    _check_last(m, (3, 3), "vee")
    return 0.5 * torch.stack(
        [m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1
    )


def so3_exp(w: Tensor) -> Tensor:
    """Rotation matrix Exp(w) = exp(hat(w)) of rotation vectors (Rodrigues).

    R = cos(theta) I + sin(theta)/theta hat(w) + (1 - cos theta)/theta^2 w w^T, theta = |w|.
    ``(..., 3) -> (..., 3, 3)``; float32 or float64; any device.
    """
    _check_last(w, (3,), "so3_exp")
    cols = w.reshape(-1, 3).t()  # (3, n): contiguous rows are faster than strided views
    x, y, z = (cols.contiguous() if cols.shape[1] > 1 else cols).unbind(0)
    theta2 = x * x + y * y + z * z
    small = theta2 < _SMALL2
    t2 = torch.where(small, torch.ones_like(theta2), theta2)
    th = t2.sqrt()
    sh = torch.sin(0.5 * th)
    ch = torch.cos(0.5 * th)
    a = torch.where(small, 1 - theta2 / 6 * (1 - theta2 / 20), 2 * sh * ch / th)
    b = torch.where(small, 0.5 - theta2 / 24 * (1 - theta2 / 30), 2 * sh * sh / t2)
    c = 1 - b * theta2
    bx, by, bz = b * x, b * y, b * z
    ax, ay, az = a * x, a * y, a * z
    bxy, bxz, byz = bx * y, bx * z, by * z
    rows = [c + bx * x, bxy - az, bxz + ay, bxy + az, c + by * y, byz - ax, bxz - ay, byz + ax]
    rows.append(c + bz * z)
    return torch.stack(rows, -1).reshape(*w.shape[:-1], 3, 3)


def rotation_angle(r: Tensor) -> Tensor:
    """Rotation angle theta in [0, pi] of rotation matrices, atan2(|vee(R - R^T)|, tr R - 1).

    ``(..., 3, 3) -> (...)``; finite gradient everywhere (0 at theta = 0 and pi).
    """
    _check_last(r, (3, 3), "rotation_angle")
    s = torch.stack(
        [r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1
    )
    tr = r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2]
    return torch.atan2(safe_norm(s), tr - 1)


def so3_log(r: Tensor) -> Tensor:
    """Rotation vector Log(R) with |Log(R)| = theta in [0, pi] (inverse of :func:`so3_exp`).

    ``(..., 3, 3) -> (..., 3)``. At theta = pi the two answers +-pi n are both correct; the
    one returned is deterministic. See the module docstring for the branches.
    """
    _check_last(r, (3, 3), "so3_log")
    batch = r.shape[:-2]
    flat = r.reshape(-1, 9)
    cols = flat.t()  # (9, n) contiguous rows: faster elementwise work than strided views
    cols = cols.contiguous() if flat.shape[0] > 1 else cols
    r00, r01, r02, r10, r11, r12, r20, r21, r22 = cols.unbind(0)
    s2 = torch.stack([r21 - r12, r02 - r20, r10 - r01], -1)  # 2 sin(theta) n
    c2 = r00 + r11 + r22 - 1  # 2 cos(theta)
    sn2 = safe_norm(s2)  # 2 sin(theta)
    theta = torch.atan2(sn2, c2)
    theta2 = theta * theta
    small = theta2 < _SMALL2
    near_pi = (sn2 < 2 * _SIN_PI) & (c2 < 0)
    den = torch.where(small | near_pi, torch.ones_like(sn2), sn2)
    fac = torch.where(small, 0.5 + theta2 / 12 * (1 + 0.7 * theta2 / 6), theta / den)
    w = fac.unsqueeze(-1) * s2
    idx = near_pi.nonzero().squeeze(-1)
    if idx.numel():
        w = w.index_put((idx,), _log_near_pi(flat[idx], c2[idx], s2[idx], theta[idx]))
    return w.reshape(*batch, 3)


def _log_near_pi(flat: Tensor, c2: Tensor, s2: Tensor, theta: Tensor) -> Tensor:
    """Log on rows within ~0.3 rad of pi: axis from the symmetric part. ``(k, 9) -> (k, 3)``."""
    m = flat.reshape(-1, 3, 3)
    cos = (0.5 * c2).unsqueeze(-1)
    sym = 0.5 * (m + m.transpose(-1, -2))
    diag = sym.diagonal(dim1=-2, dim2=-1)
    k = diag.argmax(-1)
    row = sym.gather(1, k.view(-1, 1, 1).expand(-1, 1, 3)).squeeze(1)
    eye_k = torch.nn.functional.one_hot(k, 3).to(flat.dtype)
    nk_n = (row - cos * eye_k) / (1 - cos)  # n_k * n
    nk2 = nk_n.gather(1, k.view(-1, 1)).clamp_min(1.0 / 3.0)  # n_k^2 >= 1/3 for the max
    n = nk_n / nk2.sqrt()
    sign = torch.where((n * s2).sum(-1, keepdim=True) < 0, -1.0, 1.0).to(flat.dtype)
    return (theta.unsqueeze(-1) * sign) * n


def quat_to_matrix(q: Tensor) -> Tensor:
    """Rotation matrix of quaternions (x, y, z, w), normalised first. ``(..., 4) -> (..., 3, 3)``.

    R = I + 2/|q|^2 (w hat(v) + hat(v)^2), v = (x, y, z). q and -q give the same R.
    """
    _check_last(q, (4,), "quat_to_matrix")
    x, y, z, w = q.unbind(-1)
    s = 2.0 / (q * q).sum(-1)
    xx, yy, zz = s * x * x, s * y * y, s * z * z
    xy, xz, yz = s * x * y, s * x * z, s * y * z
    wx, wy, wz = s * w * x, s * w * y, s * w * z
    rows = [1 - yy - zz, xy - wz, xz + wy, xy + wz, 1 - xx - zz, yz - wx, xz - wy, yz + wx]
    rows.append(1 - xx - yy)
    return torch.stack(rows, -1).reshape(*q.shape[:-1], 3, 3)


def matrix_to_quat(r: Tensor) -> Tensor:
    """Unit quaternion (x, y, z, w) with w >= 0 of rotation matrices (Shepperd's method).

    Of the four formulas (from 4w^2 = 1 + tr R, 4x^2 = 1 + 2 R_00 - tr R, ...) the one with
    the largest square is used, so no division by a small number. ``(..., 3, 3) -> (..., 4)``.
    """
    _check_last(r, (3, 3), "matrix_to_quat")
    r00, r01, r02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    r10, r11, r12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    r20, r21, r22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]
    tr = r00 + r11 + r22
    sq = torch.stack([1 + 2 * r00 - tr, 1 + 2 * r11 - tr, 1 + 2 * r22 - tr, 1 + tr], -1)
    # candidate k holds 4 q_k * q (unnormalised), for k = x, y, z, w
    cand = torch.stack(
        [
            torch.stack([sq[..., 0], r01 + r10, r02 + r20, r21 - r12], -1),
            torch.stack([r01 + r10, sq[..., 1], r12 + r21, r02 - r20], -1),
            torch.stack([r02 + r20, r12 + r21, sq[..., 2], r10 - r01], -1),
            torch.stack([r21 - r12, r02 - r20, r10 - r01, sq[..., 3]], -1),
        ],
        -2,
    )
    k = sq.argmax(-1)
    q = cand.gather(-2, k[..., None, None].expand(*k.shape, 1, 4)).squeeze(-2)
    q = q / safe_norm(q, keepdim=True).clamp_min(torch.finfo(q.dtype).tiny)
    return torch.where(q[..., 3:] < 0, -q, q)


def rotvec_to_quat(w: Tensor) -> Tensor:
    """Unit quaternion (x, y, z, w) of rotation vectors: (sin(theta/2) n, cos(theta/2)).

    ``(..., 3) -> (..., 4)``; Taylor branch for sin(theta/2)/theta near 0.
    """
    _check_last(w, (3,), "rotvec_to_quat")
    theta2 = (w * w).sum(-1, keepdim=True)
    small = theta2 < _SMALL2
    th = torch.where(small, torch.ones_like(theta2), theta2).sqrt()
    half = torch.where(small, 0.5 - theta2 / 48 * (1 - theta2 / 80), torch.sin(0.5 * th) / th)
    cw = torch.where(small, 1 - theta2 / 8 * (1 - theta2 / 48), torch.cos(0.5 * th))
    return torch.cat([half * w, cw], -1)


def quat_to_rotvec(q: Tensor) -> Tensor:
    """Rotation vector of quaternions (x, y, z, w) (any norm), angle in [0, pi].

    theta = 2 atan2(|v|, |w|), axis sign(w) v / |v|. ``(..., 4) -> (..., 3)``.
    """
    _check_last(q, (4,), "quat_to_rotvec")
    q = torch.where(q[..., 3:] < 0, -q, q)
    v, w = q[..., :3], q[..., 3]
    vn = safe_norm(v)
    theta = 2 * torch.atan2(vn, w)
    small = (vn < 1e-3 * w) & (w > 0)
    one = torch.ones_like(vn)
    w_safe = torch.where(small, w, one)
    ratio2 = (vn / w_safe) ** 2
    den = torch.where(small, one, vn)
    # theta / |v| = 2 atan(|v|/w) / |v| ~ (2/w)(1 - r^2/3 + r^4/5), r = |v|/w
    fac = torch.where(small, 2 / w_safe * (1 - ratio2 / 3 * (1 - 0.6 * ratio2)), theta / den)
    return fac.unsqueeze(-1) * v


def random_rotation(
    n: int | tuple[int, ...],
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Haar-uniform rotations: normalised Gaussian quaternions. Shape ``(*n, 3, 3)``."""
    shape = (n,) if isinstance(n, int) else tuple(n)
    q = torch.randn((*shape, 4), generator=generator, device=device, dtype=dtype)
    return quat_to_matrix(q)


def nearest_rotation(m: Tensor) -> Tensor:
    """Closest rotation in Frobenius norm (special Procrustes): U diag(1, 1, det(U V^T)) V^T.

    ``(..., 3, 3) -> (..., 3, 3)``; uses an SVD (general input, not only near-rotations).
    """
    _check_last(m, (3, 3), "nearest_rotation")
    u, _, vh = torch.linalg.svd(m)
    d = torch.det(u @ vh)
    u = torch.cat([u[..., :2], u[..., 2:] * d[..., None, None]], -1)
    return u @ vh


def polish_rotation(r: Tensor) -> Tensor:
    """One Newton-Schulz step towards the polar factor: R (3 I - R^T R) / 2.

    For R = Q (I + E) with Q a rotation and E small and symmetric, the result is
    Q (I + O(E^2)): it removes float rounding drift (E ~ 1e-7) to below rounding at the
    price of two 3x3 matmuls, without an SVD. Not a projection for arbitrary matrices.
    """
    rtr = r.transpose(-1, -2) @ r
    return r @ (1.5 * torch.eye(3, dtype=r.dtype, device=r.device) - 0.5 * rtr)
