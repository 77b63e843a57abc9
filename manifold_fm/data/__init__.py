"""Dataset loaders. Data lives outside the repo under a root dir (env ``MFM_DATA``)."""

from manifold_fm.data.files import DataFile, data_root, require_file, sha256_of

__all__ = ["DataFile", "data_root", "require_file", "sha256_of"]
