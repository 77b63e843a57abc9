"""Rotation-group math shared by the SO(3) and SE(3) spaces (closed forms, every angle)."""

from manifold_fm.lie.haar import HaarSO3
from manifold_fm.lie.igso3 import IGSO3
from manifold_fm.lie.rotations import (
    hat,
    matrix_to_quat,
    nearest_rotation,
    polish_rotation,
    quat_to_matrix,
    quat_to_rotvec,
    random_rotation,
    rotation_angle,
    rotvec_to_quat,
    so3_exp,
    so3_log,
    vee,
)

__all__ = [
    "IGSO3",
    "HaarSO3",
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
