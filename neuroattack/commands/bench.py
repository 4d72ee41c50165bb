"""``neuroattack bench attacks|backends``: speed benchmarks written as JSON.

Two commands under one group, each with its own flags: ``bench attacks`` times one PGD gradient
step per estimator, one training step and one G2S/RSF iteration (``--batch``: images per step);
``bench backends`` times the emulator against Lava, cold and at steady state (``--emulator-batch``:
samples per emulator batch; ``--repeats``: pairs of Lava runs for its steady state), and against
this machine's dense and event-driven limits. Both take ``--device``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from neuroattack.commands.base import (
    Command,
    add_device,
    add_network,
    add_profile,
    network_config,
    positive_int,
    refuse_overwrite,
)


def add_attacks_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="an image SNN checkpoint (default: an untrained MNIST model of the default spec)",
    )
    p.add_argument("--batch", type=positive_int, default=64, help="images per gradient step")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed steps per estimator (median)")
    p.add_argument("--timesteps", type=positive_int, nargs="+", default=[4, 8, 16], help="T values to time")
    p.add_argument("--out", required=True, type=Path)
    add_device(p)


def run_attacks(args: argparse.Namespace) -> int:
    from neuroattack.data.datasets import DATASETS, load_dataset
    from neuroattack.device import resolve_device
    from neuroattack.experiments.bench import bench_attacks
    from neuroattack.fileio import write_json
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.models.snn import SNN

    refuse_overwrite([args.out], [args.checkpoint])
    if args.checkpoint is not None:
        model, config = load_checkpoint(args.checkpoint)
        dataset = config["dataset"]
    else:
        torch.manual_seed(0)
        model, dataset = SNN(DATASETS["mnist"].default_spec, (1, 28, 28)), "mnist"
    if not isinstance(model, SNN) or DATASETS[dataset].encoding != "bernoulli":
        raise ValueError("bench attacks needs an image SNN checkpoint (the PGD iteration is on images)")
    data = load_dataset(dataset, "test", args.batch)
    device = resolve_device(args.device)
    report = bench_attacks(model, data.x, data.y, tuple(args.timesteps), args.repeats, device=device)
    write_json(args.out, report)
    for row in report["results"]:
        print(f"{row['estimator']:5s} T={row['timesteps']:2d}: {row['seconds_per_iteration'] * 1000:8.1f} ms/iteration")
    for row in report["training_and_g2s"]:
        print(
            f"T={row['timesteps']:2d}: training step {row['train_step_seconds'] * 1000:8.1f} ms, "
            f"G2S/RSF iteration {row['g2s_rsf_iteration_seconds'] * 1000:8.1f} ms"
        )
    for key, value in report["ratios"].items():
        print(f"{key}: {value:.3f}")
    return 0


def add_backends_arguments(p: argparse.ArgumentParser) -> None:
    add_network(p, "any network as a NIR file (with --dataset, or --input)")
    add_profile(p, "loihi2")
    p.add_argument("--input", type=Path, default=None, help="binary spikes [N, T, ...] as .npz (key 'spikes')")
    p.add_argument("--lava-samples", type=positive_int, default=100, help="samples in Lava's first long run")
    p.add_argument("--emulator-batch", type=positive_int, default=256, help="samples per emulator batch")
    p.add_argument("--no-lava", action="store_true", help="time the emulator only (where lava-nc is not installed)")
    p.add_argument(
        "--competing",
        type=int,
        default=0,
        help="run N busy processes beside the emulator's measurements (how it fares on a shared machine)",
    )
    p.add_argument(
        "--repeats",
        type=positive_int,
        default=3,
        help="pairs of Lava runs (N and 4N samples) for its steady state: median and spread of their rates",
    )
    p.add_argument("--out", required=True, type=Path)
    add_device(p)


def _bench_input(args: argparse.Namespace, samples: int):
    """``(graph, spikes [N, T, ...], label)`` for ``bench backends``."""
    import numpy as np

    import backends
    from neuroattack.data.datasets import load_dataset
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.replay import graph_of, hardware_spikes

    if args.checkpoint is not None:
        network_config(args)  # graph-only flags are an error here
        model, ckpt = load_checkpoint(args.checkpoint)
        graph, label = graph_of(model, ckpt["timesteps"]), model.spec.text
        dataset, encoding, timesteps = ckpt["dataset"], ckpt["encoding"], ckpt["timesteps"]
    else:
        graph, label = backends.read_graph(args.graph), args.graph.name
        dataset, encoding, timesteps = args.dataset, args.encoding or "events", args.timesteps or 8
    if args.input is not None:
        with np.load(args.input, allow_pickle=False) as data:
            if "spikes" not in data:
                raise ValueError(f"{args.input}: no array 'spikes' (expected binary spikes [N, T, ...])")
            return graph, torch.as_tensor(data["spikes"]), label  # as stored (uint8 spikes: one-pass check)
    if dataset is None:
        raise ValueError("--graph needs --dataset or --input: the spikes to run")
    data = load_dataset(dataset, "test", samples, timesteps, root=args.data_root)
    spikes = hardware_spikes(data.x, encoding, timesteps, torch.Generator().manual_seed(0))
    return graph, spikes.to(torch.uint8), label  # bytes, as spike files and attack streams store them


def run_backends(args: argparse.Namespace) -> int:
    from neuroattack.device import resolve_device
    from neuroattack.experiments.bench import bench_backends
    from neuroattack.fileio import write_json

    refuse_overwrite([args.out], [args.checkpoint or args.graph, args.input, args.data_root])
    device = resolve_device(args.device)
    batch = args.emulator_batch
    graph, spikes, label = _bench_input(args, max(batch, args.lava_samples))
    report = bench_backends(
        graph,
        spikes,
        args.profile,
        lava_samples=args.lava_samples,
        batch_size=batch,
        device=device,
        lava=not args.no_lava,
        label=label,
        dt=args.dt,
        framework=args.framework,
        reset=args.reset,
        readout=args.readout or "max",
        competing=args.competing,
        repeats=args.repeats,
    )
    report["source"] = str(args.checkpoint or args.graph)
    write_json(args.out, report)
    keys = [
        "emulator_cold_samples_per_s",
        "emulator_warm_samples_per_s",
        "emulator_steps_scan_warm_samples_per_s",
        "lava_cold_samples_per_s",
        "lava_steady_samples_per_s",
        "emulator_warm_over_lava_steady",
        "emulator_cold_over_lava_cold",
        "output_spike_match_fraction",
        "synaptic_events_per_sample",
        "scatter_adds_per_s",
        "dense_limit_samples_per_s",
        "event_limit_samples_per_s",
        "emulator_fraction_of_best_limit",
    ]
    for line in summary(report, keys):
        print(line)
    print(f"best_limit: {report['best_limit']}")
    return 0


def summary(report: dict, keys: list[str]) -> list[str]:
    """One line per key of ``report`` that has a value, with its spread where the report has one.

    Args:
        report: a ``bench backends`` report.
        keys: the keys to show, in order.

    Returns:
        the lines, e.g. ``emulator_warm_samples_per_s: 5.19e+04 (quartiles 4.9e+04-5.4e+04, range
        9392-5.922e+04, n 378)``.

    Example:
        >>> spread = {"q1": 1.5, "q3": 2.5, "min": 1.0, "max": 3.0, "n": 3}
        >>> summary({"a": 2.0, "a_spread": spread, "b": None}, ["a", "b"])
        ['a: 2 (quartiles 1.5-2.5, range 1-3, n 3)']
    """
    lines = []
    for key in keys:
        if report.get(key) is None:
            continue
        line = f"{key}: {report[key]:.4g}"
        spread = report.get(f"{key}_spread")
        if spread:
            quartiles, extremes = f"{spread['q1']:.4g}-{spread['q3']:.4g}", f"{spread['min']:.4g}-{spread['max']:.4g}"
            line += f" (quartiles {quartiles}, range {extremes}, n {spread['n']})"
        lines.append(line)
    return lines


BENCH_ATTACKS = Command(
    "bench attacks", "seconds per PGD iteration per gradient estimator (JSON)", add_attacks_arguments, run_attacks
)
BENCH_BACKENDS = Command(
    "bench backends", "emulator vs Lava samples per second and spike match (JSON)", add_backends_arguments, run_backends
)
