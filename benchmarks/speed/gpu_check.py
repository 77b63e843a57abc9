"""GPU check: the library end to end on one CUDA device, plus CUDA speed rows.

``python -m benchmarks.speed.gpu_check`` (``make gpu-check``) runs, on ``cuda:0``:

* ``trainer_device``: a Trainer on S^2 keeps model, EMA, batches and losses on the GPU;
* ``sample_log_prob_elbo_device``: ``sample``, ``log_prob`` and discrete_fm's ``elbo``
  return tensors on the model's device;
* ``bf16_autocast_step``: a training step under ``amp="bf16"`` with a finite loss;
* ``no_host_sync_in_step``: one training step under
  ``torch.cuda.set_sync_debug_mode("error")`` (any device-to-host sync raises);
* ``compiled_step``: a Trainer with ``compile=True`` takes steps with a finite loss;

then times (CUDA-synchronised, best of a few calls) the S^2 training step, the S^2
geodesic path at 1e6 points, SO(3) exp and log at 1e7 rotations, CTMC sampling and the OT
couplings at batch 4096, and writes ``speed_cuda.json`` / ``speed_cuda.md`` (via
benchmarks.common.results_io) with each check's verdict. Sized to finish in a few minutes.

Without a CUDA device it prints one line saying so and exits 0 (so ``make gpu-check`` on a
CPU machine reports instead of failing); ``--require-gpu`` makes that exit 2.
``--device cpu --quick`` runs the same checks on the CPU at tiny sizes (the sync check is
CUDA-only and is reported as skipped): a dry run of the script itself. Exit code 1 if any
check fails.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
from collections.abc import Callable

import torch

from benchmarks.common.results_io import add_output_args, make_meta, write_results

__all__ = ["main"]

NO_GPU = "gpu-check: no CUDA GPU visible (torch.cuda.is_available() is False); nothing checked"


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _best_s(fn: Callable[[], object], dev: torch.device, repeats: int = 5) -> float:
    fn()  # warm-up (kernels, allocator, compilation)
    _sync(dev)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        best = min(best, time.perf_counter() - t0)
    return best


def _finite(values: list[float]) -> bool:
    return bool(values) and all(math.isfinite(v) for v in values)


def _s2_parts(dev: torch.device, n: int):
    from manifold_fm import Sphere
    from manifold_fm.data.synthetic import demo_mixture
    from manifold_fm.nn import TangentModel, TimeMLP

    space = Sphere(2)
    x1 = demo_mixture().sample(n, generator=torch.Generator().manual_seed(0)).float()
    model = TangentModel(space, TimeMLP.for_space(space, hidden=64, depth=2)).to(dev)
    return space, x1.to(dev), model


def _cfg(dev: torch.device, **kw):
    from manifold_fm.train import TrainConfig

    base = dict(steps=4, batch_size=256, log_every=2, progress=False, warmup_steps=1)
    return TrainConfig(**{**base, "device": str(dev), **kw})


def check_trainer_device(dev: torch.device) -> str:
    from manifold_fm.train import Trainer

    space, x1, model = _s2_parts(dev, 1024)
    tr = Trainer(space, model, x1, _cfg(dev))
    res = tr.fit()
    where = {p.device.type for p in tr.ema_model.parameters()}
    where |= {p.device.type for p in tr.parts.model.parameters()}
    if where != {dev.type} or not _finite(res.losses):
        raise RuntimeError(f"trainer tensors on {where}, losses {res.losses}")
    return f"losses {[round(v, 4) for v in res.losses]}"


def check_sample_log_prob_elbo(dev: torch.device) -> str:
    from discrete_fm import CTMCSpace
    from discrete_fm.elbo import elbo
    from discrete_fm.transformer import SequenceTransformer
    from manifold_fm.solvers import log_prob, sample

    space, x1, model = _s2_parts(dev, 64)
    xs = sample(model, space, 64, steps=8, method="rk4").x
    lp = log_prob(model, space, x1, steps=8, method="midpoint").log_prob
    ctmc = CTMCSpace(9, 8, "mask")
    net = SequenceTransformer.for_space(ctmc, dim=32, depth=1).to(dev).eval()
    tokens = sample(net, ctmc, 16, steps=8, generator=torch.Generator(dev).manual_seed(0)).x
    nats = elbo(net, ctmc, tokens, n_t=2, generator=torch.Generator(dev).manual_seed(1)).nats
    devices = {t.device.type for t in (xs, lp, tokens, nats)}
    if devices != {dev.type}:
        raise RuntimeError(f"results on {devices}, model on {dev}")
    return f"sample/log_prob/elbo on {dev}"


def check_bf16_step(dev: torch.device) -> str:
    from manifold_fm.train import Trainer

    space, x1, model = _s2_parts(dev, 512)
    res = Trainer(space, model, x1, _cfg(dev, amp="bf16")).fit()
    if not _finite(res.losses):
        raise RuntimeError(f"bf16 losses not finite: {res.losses}")
    return f"bf16 losses {[round(v, 4) for v in res.losses]}"


def check_no_host_sync(dev: torch.device) -> str:
    from manifold_fm.train import Trainer

    if dev.type != "cuda":
        return "skipped: set_sync_debug_mode is CUDA-only"
    space, x1, model = _s2_parts(dev, 512)
    tr = Trainer(space, model, x1, _cfg(dev, log_every=1000))
    batch = {"x1": x1[:256]}
    tr._train_step(batch)  # warm-up outside the debug mode (allocator, lazy init)
    torch.cuda.synchronize(dev)
    torch.cuda.set_sync_debug_mode("error")
    try:
        tr._train_step(batch)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return "one training step ran under set_sync_debug_mode('error')"


def check_compiled_step(dev: torch.device) -> str:
    from manifold_fm.train import Trainer

    space, x1, model = _s2_parts(dev, 512)
    res = Trainer(space, model, x1, _cfg(dev, compile=True)).fit()
    return f"compiled losses {[round(v, 4) for v in res.losses]}"


CHECKS = {
    "trainer_device": check_trainer_device,
    "sample_log_prob_elbo_device": check_sample_log_prob_elbo,
    "bf16_autocast_step": check_bf16_step,
    "no_host_sync_in_step": check_no_host_sync,
    "compiled_step": check_compiled_step,
}


def speed_rows(dev: torch.device, quick: bool) -> list[dict]:
    """CUDA speed rows (name, unit, value, size); see the module docstring."""
    from discrete_fm import CTMCSpace
    from discrete_fm.transformer import SequenceTransformer
    from manifold_fm.couplings import minibatch_ot, sinkhorn
    from manifold_fm.lie import so3_exp, so3_log
    from manifold_fm.solvers import sample
    from manifold_fm.train import Trainer

    def size(full: int, small: int) -> int:
        return small if quick else full

    out = []
    space, x1, model = _s2_parts(dev, size(4096, 256))
    tr = Trainer(space, model, x1, _cfg(dev, batch_size=min(4096, x1.shape[0])))
    batch = {"x1": x1}
    step_s = _best_s(lambda: tr._train_step(batch), dev)
    out.append(("s2_train_step", "steps/s", 1 / step_s, x1.shape[0]))
    n = size(1_000_000, 10_000)
    g = torch.Generator(dev).manual_seed(0)
    a = space.sample_prior(n, generator=g, device=dev)
    b = space.sample_prior(n, generator=g, device=dev)
    t = torch.rand(n, generator=g, device=dev)
    out.append(("geodesic_path_s2", "us/call", 1e6 * _best_s(lambda: space.path(a, b, t), dev), n))
    n = size(10_000_000, 100_000)
    w = torch.randn(n, 3, generator=g, device=dev)
    r = so3_exp(w)
    out.append(("so3_exp", "us/call", 1e6 * _best_s(lambda: so3_exp(w), dev), n))
    out.append(("so3_log", "us/call", 1e6 * _best_s(lambda: so3_log(r), dev), n))
    ctmc = CTMCSpace(65, size(128, 16), "mask")
    net = SequenceTransformer.for_space(ctmc, dim=size(128, 32), depth=size(4, 1)).to(dev).eval()
    m, steps = size(64, 8), size(64, 8)
    tokens = m * ctmc.length
    secs = _best_s(lambda: sample(net, ctmc, m, steps=steps, generator=g), dev, repeats=2)
    out.append(("ctmc_sample_tokens", "tokens/s", tokens / secs, tokens))
    n = x1.shape[0]
    x0 = space.sample_prior(n, generator=g, device=dev)
    ot_s = _best_s(lambda: minibatch_ot(space, x0, x1, g), dev, 3)
    out.append(("coupling_ot_s2", "s", ot_s, n))
    sk_s = _best_s(lambda: sinkhorn(space, x0, x1, g), dev, 3)
    out.append(("coupling_sinkhorn_s2", "s", sk_s, n))
    return [{"name": a, "unit": u, "value": v, "size": s, "device": str(dev)} for a, u, v, s in out]


def markdown(doc: dict) -> str:
    """speed_cuda.md: the checks' verdicts, then the speed rows."""
    lines = [f"# GPU check on {doc['device_name']}", "", "| check | ok | detail |"]
    lines.append("|---|---|---|")
    lines += [f"| {c['name']} | {c['ok']} | {c['detail']} |" for c in doc["checks"]]
    lines += ["", "| row | unit | value | size |", "|---|---|---:|---:|"]
    for r in doc["rows"]:
        lines.append(f"| {r['name']} | {r['unit']} | {r['value']:.4g} | {r['size']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (a dry run)")
    ap.add_argument("--quick", action="store_true", help="tiny speed sizes")
    ap.add_argument("--require-gpu", action="store_true", help="exit 2 when no GPU is visible")
    add_output_args(ap)
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(NO_GPU)
        return 2 if args.require_gpu else 0
    dev = torch.device(args.device)
    t0 = time.perf_counter()
    checks = []
    for name, fn in CHECKS.items():
        try:
            checks.append({"name": name, "ok": True, "detail": fn(dev)})
        except Exception as err:  # a failed check is reported, the others still run
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            checks.append({"name": name, "ok": False, "detail": detail.replace("\n", " ")})
        print(f"{name:<30} {'ok' if checks[-1]['ok'] else 'FAILED'}  {checks[-1]['detail']}")
    rows = speed_rows(dev, args.quick)
    for r in rows:
        print(f"{r['name']:<30} {r['value']:.4g} {r['unit']} (size {r['size']})")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu (dry run)"
    payload = {"checks": checks, "rows": rows, "device_name": name, "quick": args.quick}
    wall = round(time.perf_counter() - t0, 2)
    meta = make_meta("speed_cuda", seeds=[0], wall_s=wall, argv=argv)
    write_results("speed_cuda", payload, meta, out_dir=args.out_dir, markdown=markdown)
    return 0 if all(c["ok"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
