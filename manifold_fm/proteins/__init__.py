"""Proteins: structure files in, SE(3)^N training batches out, backbones generated and judged.

Everything protein lives in this package (install it with ``pip install
'manifold-fm[proteins]'``, which brings gemmi, torch-geometric, e3nn, pydssp and tmtools):

* :mod:`.parse` -- PDB/mmCIF (gzipped or not) through gemmi, backbone chains, the
  :class:`DropReport` of what was left out and why, :class:`ProteinParseError`;
* :mod:`.cache` -- :func:`load_proteins`, the cached :class:`ProteinSet`, the shipped set;
* :mod:`.frames` -- Gram-Schmidt frames and ideal backbone atoms;
* :mod:`.dataset` -- random crops, length buckets, masks, :func:`protein_loader`;
* :mod:`.cogeneration` -- backbone windows with their sequences (SE(3)^N x amino acids);
* :mod:`.pdb`, :mod:`.samples` -- :func:`write_pdb`, sampled points to PDB files;
* :mod:`.backbone_space` -- :class:`BackboneSE3`, SE(3)^N with FrameFlow's auxiliary losses;
* :mod:`.kabsch` -- the Kabsch-aligned OT coupling, registered as ``"kabsch_ot"``;
* :mod:`.framenet` -- FrameNet (IPA on a residue graph) and its Space-contract adapters;
* :mod:`.metrics` -- structural metrics of generated backbones;
* :mod:`.plugin` -- the ``mfm`` kinds (``se3_backbone``, ``framenet``, ``proteins``, ...),
  registered through the ``manifold_fm.plugins`` entry point.

Units: Angstrom everywhere (files, cache, frames, batches); translations are not scaled.
The shipped set is ``$MFM_DATA/proteins/pdb`` (190 chains; see its README).
"""

from __future__ import annotations

import importlib.util

#: the third-party packages the ``proteins`` extra installs, by import name
EXTRA_PACKAGES = ("gemmi", "torch_geometric", "e3nn")

_missing = [name for name in EXTRA_PACKAGES if importlib.util.find_spec(name) is None]
if _missing:
    # ModuleNotFoundError (an ImportError) naming the absent package: the ``mfm`` plugin
    # loader skips a plugin whose dependencies are not installed instead of failing
    raise ModuleNotFoundError(
        f"manifold_fm.proteins needs the 'proteins' extra (missing: {', '.join(_missing)}); "
        "install it with: pip install 'manifold-fm[proteins]'",
        name=_missing[0],
    )

from manifold_fm.couplings import register_coupling  # noqa: E402
from manifold_fm.proteins.backbone_space import BackboneSE3  # noqa: E402
from manifold_fm.proteins.cache import (  # noqa: E402
    STRUCTURE_SUFFIXES,
    ProteinSet,
    find_structure_files,
    load_proteins,
    shipped_proteins_dir,
)
from manifold_fm.proteins.dataset import (  # noqa: E402
    AMINO_ACIDS,
    BucketBatchSampler,
    ProteinCrops,
    protein_loader,
)
from manifold_fm.proteins.framenet import (  # noqa: E402
    CoGenerationModel,
    FrameNet,
    frame_velocity_model,
)
from manifold_fm.proteins.frames import (  # noqa: E402
    IDEAL_LOCAL,
    IDEAL_O_LOCAL,
    backbone_frames,
    ideal_backbone,
)
from manifold_fm.proteins.kabsch import kabsch_ot  # noqa: E402
from manifold_fm.proteins.parse import (  # noqa: E402
    BACKBONE_ATOMS,
    BackboneChain,
    DropRecord,
    DropReport,
    ProteinParseError,
    parse_structure_file,
)
from manifold_fm.proteins.pdb import write_pdb  # noqa: E402

register_coupling("kabsch_ot", kabsch_ot)

__all__ = [
    "AMINO_ACIDS",
    "BACKBONE_ATOMS",
    "EXTRA_PACKAGES",
    "IDEAL_LOCAL",
    "IDEAL_O_LOCAL",
    "STRUCTURE_SUFFIXES",
    "BackboneChain",
    "BackboneSE3",
    "BucketBatchSampler",
    "CoGenerationModel",
    "DropRecord",
    "DropReport",
    "FrameNet",
    "ProteinCrops",
    "ProteinParseError",
    "ProteinSet",
    "backbone_frames",
    "find_structure_files",
    "frame_velocity_model",
    "ideal_backbone",
    "kabsch_ot",
    "load_proteins",
    "parse_structure_file",
    "protein_loader",
    "shipped_proteins_dir",
    "write_pdb",
]
