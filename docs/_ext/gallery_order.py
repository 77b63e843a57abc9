"""The order of the example gallery: the 2-D flow first, then the manifolds, then tokens."""

ORDER = (
    "gaussian_mixture_2d.py",
    "sphere_flow.py",
    "so3_rotations.py",
    "custom_space.py",
    "discrete_text.py",
)


class ExampleOrder:
    """sphinx-gallery sort key: the position of a file in :data:`ORDER` (others last)."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        rank = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return rank, filename
