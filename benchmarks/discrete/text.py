"""Text benchmark: CTMC flow matching vs an autoregressive baseline on tinyshakespeare.

``python -m benchmarks.discrete.text [--budget-s 120] [--quick]`` trains, for the same budget of
process CPU seconds each and with the same SequenceTransformer, (1) a causal AR model,
(2) a mask-source CTMC model and (3) a uniform-source CTMC model on 128-character chunks
of the train split
(CTMC models with manifold_fm.train.Trainer; the AR baseline with the same optimiser)
(README split 90/5/5), then reports on test chunks: the AR exact bits/char and the CTMC
negative-ELBO bits/char (upper bounds; mask: number-of-masks estimator, uniform: time
estimator), beside the README's n-gram baselines; and for 64 samples of 128 chars (mask
model: ancestral sampler, 128 steps, float64 draws, no temperature): unigram/bigram/trigram
Jensen-Shannon divergence (bits) to the test split, sample entropy and NLL under the AR
model. With flow_matching installed (optional extra; ``--no-peer`` skips it) the same
network is also trained for the same budget with flow_matching's discrete pipeline
(benchmarks/discrete/peer.py), scored with our NELBO and sampled with its Euler
solver (``peer_flow_matching_nelbo_bpc``, ``peer_flow_matching_bigram_js``). Writes
benchmarks/results/text.json, text.md and text_samples.txt (benchmarks/discrete/run.py).
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.discrete.baselines import ARModel
from benchmarks.discrete.fit import fit_ar
from benchmarks.discrete.jobs import text_splits
from benchmarks.discrete.peer import (
    PeerPosterior,
    fit_peer,
    peer_missing,
    peer_network,
    sample_peer,
)
from benchmarks.discrete.run import (
    add_discrete_args,
    budget_kw,
    check_discrete_args,
    ctmc_net,
    ctmc_space,
    fit_and_score,
    timed_samples,
    write_discrete_results,
)
from benchmarks.discrete.text_report import markdown
from discrete_fm import elbo
from discrete_fm.data.text import load_text
from discrete_fm.metrics import ngram_js_bits, sample_entropy_bits

#: interpolated Witten-Bell n-gram BPC from shared/data/text/README.md (val / test)
README_NGRAM_BPC = {
    "unigram": (4.81, 4.85),
    "bigram": (3.57, 3.60),
    "trigram": (2.88, 3.04),
    "4-gram": (2.44, 2.68),
    "5-gram": (2.27, 2.55),
}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # recipe: the best lever of benchmarks.discrete.levers at equal CPU budget (depth 2, lr 2e-3
    # after 200 warmup steps; results/text.md "Levers"), for every model trained here
    add_discrete_args(
        ap,
        budget_s=120.0,
        dim=128,
        depth=2,
        lr=2e-3,
        n_t=8,
        samples=64,
        sample_steps=128,
        warmup_steps=200,
    )
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--eval-chunks", type=int, default=128, help="test chunks for the NELBO")
    ap.add_argument(
        "--no-peer", dest="peer", action="store_false", help="skip flow_matching's pipeline"
    )
    args = ap.parse_args(argv)
    check_discrete_args(args)
    if args.quick:
        args.budget_s, args.eval_chunks, args.n_t = 3.0, 8, 2
        args.samples, args.sample_steps, args.dim, args.depth = 8, 16, 32, 1
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    corpus = load_text("tinyshakespeare", args.root)
    V, L = corpus.vocab_size, args.length
    train, test, ev = text_splits(corpus, L, args.eval_chunks)  # train windows: stride L/2
    net_kw = dict(dim=args.dim, depth=args.depth, heads=4 if args.dim % 4 == 0 else 1)
    settings = {k: v for k, v in vars(args).items() if k != "out_dir"}
    res: dict = {"settings": settings, "vocab_size": V}
    fits = {}

    torch.manual_seed(args.seed)
    ar = ARModel(V, L, **net_kw)
    fits["ar"] = fit_ar(ar, train, **budget_kw(args))
    res["ar_bpc"] = float(ar.nll_bits(ev).sum() / ev.numel())

    models = {}
    for source in ("mask", "uniform"):
        torch.manual_seed(args.seed)
        space = ctmc_space(V, L, source, args)
        net = ctmc_net(space, args, **net_kw)
        est = "k" if source == "mask" else "t"
        fits[source], e = fit_and_score(space, net, train, ev, args, estimator=est, batch_size=64)
        res[f"nelbo_bpc_{source}"] = e.bits_per_token
        res[f"nelbo_bpc_{source}_stderr"] = e.stderr
        res[f"nelbo_bpc_{source}_estimator"] = est
        models[source] = (space, net)
    peer_net, why_not = None, peer_missing() if args.peer else "--no-peer"
    if why_not is None:
        torch.manual_seed(args.seed)
        peer_net = peer_network(V, L, **net_kw)
        fits["peer_flow_matching"] = fit_peer(peer_net, V, train, **budget_kw(args))
        e = elbo(
            PeerPosterior(peer_net, V),
            models["mask"][0],
            ev,
            n_t=args.n_t,
            estimator="k",
            batch_size=64,
            generator=torch.Generator().manual_seed(args.seed + 1),
        )
        res["peer_flow_matching_nelbo_bpc"] = e.bits_per_token
        res["peer_flow_matching_nelbo_bpc_stderr"] = e.stderr
    else:
        res["peer_flow_matching_skipped"] = why_not
    res["mask_minus_ar_bpc"] = res["nelbo_bpc_mask"] - res["ar_bpc"]
    nets = {"ar": ar, "mask": models["mask"][1], "uniform": models["uniform"][1]}
    if peer_net is not None:
        nets["peer_flow_matching"] = peer_net
    res["params"] = {k: sum(p.numel() for p in m.parameters()) for k, m in nets.items()}
    res["train_steps"] = {k: f.steps for k, f in fits.items()}
    res["train_wall_s"] = {k: round(f.wall_s, 1) for k, f in fits.items()}
    res["final_train_loss"] = {k: f.final_loss for k, f in fits.items()}
    res["final_train_loss_label"] = {k: f.loss_label for k, f in fits.items()}

    g = torch.Generator().manual_seed(args.seed + 2)
    space, net = models["mask"]
    s_mask, sample_wall = timed_samples(
        net, space, args.samples, args.sample_steps, g, args.self_condition
    )
    s_ar = ar.sample(args.samples, L, g)
    freq = torch.bincount(corpus.train, minlength=V).double()
    s_uni = torch.multinomial(
        freq / freq.sum(), args.samples * L, replacement=True, generator=g
    ).view(args.samples, L)
    sample_sets = [("test_data", test[: args.samples]), ("mask_ctmc", s_mask), ("ar", s_ar)]
    sample_sets.append(("unigram_model", s_uni))
    if peer_net is not None:
        s_peer = sample_peer(peer_net, V, L, args.samples, args.sample_steps, args.seed + 2)
        sample_sets.append(("peer_flow_matching", s_peer))
    stats = {}
    for name, xs in sample_sets:
        ref = test if name != "test_data" else test[args.samples :]
        stats[name] = {
            "js1": ngram_js_bits(xs, ref, 1),
            "js2": ngram_js_bits(xs, ref, 2),
            "js3": ngram_js_bits(xs, ref, 3),
            "entropy_bits": sample_entropy_bits(xs, V),
            "ar_nll_bpc": float(ar.nll_bits(xs).mean() / L),
        }
    res["sample_stats"] = stats
    res["bigram_js_samples"] = stats["mask_ctmc"]["js2"]
    res["bigram_js_unigram_model"] = stats["unigram_model"]["js2"]
    res["sample_wall_s"] = round(sample_wall, 1)
    res["readme_ngram_bpc_val_test"] = README_NGRAM_BPC
    res["must_show"] = {
        "mask_within_0.35_of_ar": res["mask_minus_ar_bpc"] <= 0.35,
        "bigram_js_below_unigram_model": res["bigram_js_samples"] < res["bigram_js_unigram_model"],
    }
    if peer_net is not None:
        res["peer_flow_matching_bigram_js"] = stats["peer_flow_matching"]["js2"]
        res["must_show"]["mask_nelbo_le_peer"] = (
            res["nelbo_bpc_mask"] <= res["peer_flow_matching_nelbo_bpc"]
        )
        res["must_show"]["mask_js2_le_peer"] = (
            res["bigram_js_samples"] <= res["peer_flow_matching_bigram_js"]
        )
    samples = "".join(
        f"--- mask CTMC sample {i} ---\n{corpus.decode(x)}\n" for i, x in enumerate(s_mask)
    ) + "".join(f"--- AR sample {i} ---\n{corpus.decode(x)}\n" for i, x in enumerate(s_ar[:8]))
    return write_discrete_results(
        "text", res, args, argv, t_start, _markdown, texts={"_samples.txt": samples}
    )


#: text.md from a text.json document (benchmarks.discrete.text_report)
_markdown = markdown


if __name__ == "__main__":
    main()
