"""Protein structures in and out: frames, parsing with a drop report, errors, cache, batches.

The shipped set (``$MFM_DATA/proteins``, else ../shared/data beside the checkout) is used
where present; every other test builds its own small files with :func:`write_pdb`.
"""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import gemmi
import numpy as np
import pytest
import torch
from _shared_data import PROTEIN_DATA, needs_proteins
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm import SE3
from manifold_fm.proteins import (
    IDEAL_LOCAL,
    BucketBatchSampler,
    ProteinParseError,
    backbone_frames,
    ideal_backbone,
    load_proteins,
    parse_structure_file,
    protein_loader,
    write_pdb,
)
from manifold_fm.train import TrainConfig, Trainer

DATA = None if PROTEIN_DATA is None else PROTEIN_DATA / "proteins"
needs_data = needs_proteins


def random_frames(n: int, seed: int = 0, step: float = 3.8) -> torch.Tensor:
    """A chain-like SE(3)^n: random rotations, CA on a random walk with 3.8 A steps."""
    g = torch.Generator().manual_seed(seed)
    q = torch.linalg.qr(torch.randn(n, 3, 3, generator=g, dtype=torch.float64))[0]
    q = q * torch.sign(torch.linalg.det(q))[:, None, None]
    d = torch.randn(n, 3, generator=g, dtype=torch.float64)
    ca = torch.cumsum(step * d / d.norm(dim=-1, keepdim=True), 0)
    return torch.cat([q, ca.unsqueeze(-1)], -1)


def ca_of(path: Path) -> np.ndarray:
    s = gemmi.read_structure(str(path))
    return np.array([[a.pos.x, a.pos.y, a.pos.z] for r in s[0][0] for a in r if a.name == "CA"])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_frames_put_backbone_at_the_ideal_local_coordinates(seed):
    f = random_frames(5, seed)
    atoms = ideal_backbone(f)
    back = backbone_frames(atoms)
    torch.testing.assert_close(back, f, atol=1e-9, rtol=0)  # frames -> atoms -> same frames
    r, t = f[..., :3], f[..., 3]
    local = torch.einsum("lji,laj->lai", r, atoms[:, :3] - t[:, None])
    torch.testing.assert_close(local, IDEAL_LOCAL.expand(5, 3, 3), atol=1e-9, rtol=0)
    assert abs(float(IDEAL_LOCAL[0, 0]) + 0.525) < 1e-12 and float(IDEAL_LOCAL[2, 0]) == 1.526


def test_frame_convention_x_along_ca_c_and_n_in_the_upper_xy_plane():
    atoms = torch.tensor([[[-0.525, 1.363, 0.0], [0.0, 0.0, 0.0], [1.526, 0.0, 0.0]]])
    f = backbone_frames(atoms.double())
    torch.testing.assert_close(f[0, :, :3], torch.eye(3, dtype=torch.float64))
    flipped = atoms * torch.tensor([-1.0, 1.0, -1.0])  # OpenFold's "C on -x" convention
    assert not torch.allclose(backbone_frames(flipped.double())[0, :, :3], torch.eye(3).double())


@needs_data
def test_shipped_set_parses_with_report_and_real_geometry(tmp_path):
    ps = load_proteins(DATA / "pdb", cache=tmp_path / "c.pt", min_length=40)
    ref = np.load(DATA / "backbones.npz")
    assert len(ps) == 190 and int(ps.lengths.sum()) == int(ref["length"].sum())
    assert ps.report.dropped == [] and ps.report.n_skipped == 0
    assert sorted(len(s) for s in ps.sequences) == sorted(ref["length"].tolist())
    f = backbone_frames(ps.coords.double())
    local = torch.einsum("lji,laj->lai", f[..., :3], ps.coords.double()[:, :3] - f[:, None, :, 3])
    torch.testing.assert_close(local.mean(0), IDEAL_LOCAL, atol=0.02, rtol=0)
    ca = ps.coords[:, 1].double()
    steps = (ca[1:] - ca[:-1]).norm(dim=-1)
    inner = torch.ones(len(steps), dtype=torch.bool)
    inner[(ps.offsets[1:] - 1)] = False  # pairs across chain boundaries
    assert abs(float(steps[inner].mean()) - 3.80) < 0.01
    strict = load_proteins(DATA / "pdb", min_length=150)
    assert len(strict) < 190 and strict.report.reasons()["length"] == 190 - len(strict)


def _chain_file(path: Path, n: int = 30, seed: int = 0) -> Path:
    return write_pdb(random_frames(n, seed), path, ("ACDEFGHIKLMNPQRSTVWY" * 5)[:n])


def test_chain_break_splits_and_missing_atom_drops_with_report(tmp_path):
    f = random_frames(30, 1)
    f[15:, :, 3] += 20.0  # CA 14 -> 15 is ~20 A: a break
    p = write_pdb(f, tmp_path / "brk.pdb")
    lines = p.read_text().splitlines()
    lines = [ln for ln in lines if not (ln[22:26].strip() == "5" and ln[12:16].strip() == "C")]
    p.write_text("\n".join(lines) + "\n")
    chains = parse_structure_file(p, min_length=4, report=(rep := _report()))
    assert [len(c.sequence) for c in chains] == [4, 10, 15]  # 1-4 | 6-15 | 16-30
    assert rep.splits == 1 and rep.reasons() == {"missing atoms": 1, "chain break": 1}
    chains = parse_structure_file(p, min_length=8, report=(rep := _report()))
    assert [len(c.sequence) for c in chains] == [10, 15] and rep.reasons()["length"] == 1


def _report():
    from manifold_fm.proteins import DropReport

    return DropReport()


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_error_names_file_and_line(tmp_path, gz):
    good = _chain_file(tmp_path / "good.pdb").read_text().splitlines()
    text = "\n".join([*good[:41], good[41][:35]]) + "\n"  # line 42 cut mid-coordinates
    path = tmp_path / ("cut.pdb.gz" if gz else "cut.pdb")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    with pytest.raises(ProteinParseError, match=r"cut\.pdb(\.gz)?, line 42") as err:
        load_proteins(path, min_length=1)
    assert err.value.line == 42 and err.value.path == str(path)


def test_malformed_mmcif_names_file_and_line(tmp_path):
    p = tmp_path / "bad.cif"
    p.write_text("data_x\nloop_\n_atom_site.id\n_atom_site.Cartn_x\n1 2.0\n2\n")
    with pytest.raises(ProteinParseError, match=r"bad\.cif, line 2"):
        parse_structure_file(p)


def test_mmcif_and_pdb_give_the_same_chain(tmp_path):
    p = _chain_file(tmp_path / "a.pdb", 12)
    s = gemmi.read_structure(str(p))
    s.setup_entities()
    s.make_mmcif_document().write_file(str(tmp_path / "a.cif"))
    a = parse_structure_file(p)[0]
    b = parse_structure_file(tmp_path / "a.cif")[0]
    np.testing.assert_allclose(a.coords, b.coords)
    assert a.sequence == b.sequence == "ACDEFGHIKLMN"


def test_lenient_mode_skips_and_counts_bad_files(tmp_path):
    _chain_file(tmp_path / "ok1.pdb", 30, 1)
    _chain_file(tmp_path / "ok2.pdb", 30, 2)
    (tmp_path / "bad.pdb").write_text("ATOM      1  N   ALA A   1      1.0\n")
    with pytest.raises(ProteinParseError, match=r"bad\.pdb"):
        load_proteins(tmp_path, min_length=10)
    with pytest.warns(UserWarning, match=r"bad\.pdb"):
        ps = load_proteins(tmp_path, min_length=10, lenient=True)
    assert len(ps) == 2 and ps.report.n_skipped == 1 and "bad.pdb" in ps.report.skipped_files[0][0]


def test_cache_is_reused_and_rebuilt_when_a_source_changes(tmp_path):
    src = tmp_path / "src"
    _chain_file(src / "a.pdb", 30, 1)
    _chain_file(src / "b.pdb", 25, 2)
    cache = tmp_path / "cache" / "p.pt"
    first = load_proteins(src, cache=cache, min_length=10)
    state = torch.load(cache, weights_only=True)
    assert set(state) >= {"key", "coords", "names"} and len(first) == 2
    stamp = cache.stat().st_mtime_ns
    again = load_proteins(src, cache=cache, min_length=10)
    assert cache.stat().st_mtime_ns == stamp and again.names == first.names  # reused
    _chain_file(src / "b.pdb", 20, 3)  # same name, new content, size and mtime
    later = time.time() + 5
    os.utime(src / "b.pdb", (later, later))
    changed = load_proteins(src, cache=cache, min_length=10)
    assert sorted(changed.lengths.tolist()) == [20, 30]
    assert not list(cache.parent.glob(".*tmp*"))  # the atomic write left no temp file


def test_crops_buckets_and_masks(tmp_path):
    for i, n in enumerate([30, 45, 50, 60, 70, 90]):
        _chain_file(tmp_path / f"c{i}.pdb", n, i)
    ps = load_proteins(tmp_path, min_length=10)
    sampler = BucketBatchSampler(ps.lengths, 2, crop_length=48, bucket_width=16, seed=3)
    plans = sampler.plans()
    assert plans == BucketBatchSampler(ps.lengths, 2, 48, 16, seed=3).plans()  # seeded
    for plan in plans:
        assert len({length // 16 for _, _, length in plan}) == 1  # one bucket per batch
        for c, start, length in plan:
            assert length == min(int(ps.lengths[c]), 48)
            assert 0 <= start <= int(ps.lengths[c]) - length
    sampler.set_epoch(1)
    assert sampler.plans() != plans  # new windows each epoch
    loader = protein_loader(ps, n_frames=48, batch_size=2, bucket_width=16, seed=0)
    batch = next(iter(loader))
    assert batch["x1"].shape == (2, 48, 3, 4) and batch["mask"].dtype == torch.bool
    SE3(48).validate(batch["x1"])  # padded frames are valid points too
    m = batch["mask"]
    lengths = m.sum(1)
    assert bool((m == (torch.arange(48) < lengths[:, None])).all())
    com = (batch["x1"][..., 3] * m[..., None]).sum(1) / lengths[:, None]
    assert float(com.abs().max()) < 1e-4  # centred over the real residues
    with pytest.raises(ValueError, match="crop_length"):
        protein_loader(ps, n_frames=32, batch_size=2, crop_length=48)


def test_loader_trains_through_the_trainer_on_se3(tmp_path):
    for i, n in enumerate([20, 24, 26, 30]):
        _chain_file(tmp_path / f"c{i}.pdb", n, i)
    ps = load_proteins(tmp_path, min_length=10)
    loader = protein_loader(ps, n_frames=32, batch_size=2, bucket_width=64, seed=0)
    model = torch.nn.Sequential(torch.nn.Flatten(1), torch.nn.Linear(32 * 12, 32 * 6))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = model

        def forward(self, x, t, mask):
            return self.lin(x).reshape(-1, 32, 6) * mask[..., None]

    cfg = TrainConfig(
        steps=4, batch_size=2, warmup_steps=1, device="cpu", progress=False, log_every=2
    )
    fit = Trainer(SE3(32), Net(), loader, cfg).fit()
    assert fit.steps == 4 and all(np.isfinite(fit.losses))


def test_pdb_round_trip_ca_exact_and_masked_residues_omitted(tmp_path):
    f = random_frames(40, 7)
    mask = torch.ones(40, dtype=torch.bool)
    mask[35:] = False
    p = write_pdb(f, tmp_path / "out.pdb", "ACDEFGHIKLMNPQRSTVWY" * 2, mask)
    ca = ca_of(p)
    assert ca.shape == (35, 3)
    np.testing.assert_allclose(ca, f[:35, :, 3].numpy(), atol=1e-3, rtol=0)
    s = gemmi.read_structure(str(p))
    res = list(s[0]["A"])
    assert [r.seqid.num for r in res] == list(range(1, 36)) and res[0].name == "ALA"
    assert gemmi.one_letter_code([r.name for r in res]).upper() == ("ACDEFGHIKLMNPQRSTVWY" * 2)[:35]
    lines = p.read_text().splitlines()
    assert lines[-1] == "END" and lines[-2].startswith("TER")
    assert all(len(ln) == 78 for ln in lines if ln.startswith("ATOM"))
    back = parse_structure_file(p)[0]  # our own parser reads it back: ideal frames again
    torch.testing.assert_close(
        backbone_frames(torch.from_numpy(back.coords).double()), f[:35], atol=3e-3, rtol=0
    )
    co = np.linalg.norm(back.coords[:, 3] - back.coords[:, 2], axis=-1)
    np.testing.assert_allclose(co, 1.231, atol=2e-3)
    with pytest.raises(ValueError, match="sequence"):
        write_pdb(f, tmp_path / "x.pdb", "AC")
