"""``neuroattack bench attacks|backends``: speed benchmarks written as JSON.

Two commands under one group, each with its own flags: ``bench attacks`` times one PGD gradient
step per estimator (``--batch``: images per step); ``bench backends`` times the emulator against
Lava (``--emulator-batch``: samples per emulator batch).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from neuroattack.commands.base import Command, add_profile, positive_int


def add_attacks_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="an image SNN checkpoint (default: an untrained MNIST model of the default spec)",
    )
    p.add_argument("--batch", type=positive_int, default=64, help="images per gradient step")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed steps per estimator (median)")
    p.add_argument("--out", required=True, type=Path)


def run_attacks(args: argparse.Namespace) -> int:
    from neuroattack.bench import bench_attacks
    from neuroattack.data.datasets import DATASETS, load_dataset
    from neuroattack.fileio import write_json
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.models.snn import SNN

    if args.checkpoint is not None:
        model, config = load_checkpoint(args.checkpoint)
        dataset = config["dataset"]
    else:
        torch.manual_seed(0)
        model, dataset = SNN(DATASETS["mnist"].default_spec, (1, 28, 28)), "mnist"
    if not isinstance(model, SNN) or DATASETS[dataset].encoding != "bernoulli":
        raise ValueError("bench attacks needs an image SNN checkpoint (the PGD iteration is on images)")
    data = load_dataset(dataset, "test", args.batch)
    report = bench_attacks(model, data.x, data.y, repeats=args.repeats)
    write_json(args.out, report)
    for row in report["results"]:
        print(f"{row['estimator']:5s} T={row['timesteps']:2d}: {row['seconds_per_iteration'] * 1000:8.1f} ms/iteration")
    for key, value in report["ratios"].items():
        print(f"{key}: {value:.3f}")
    return 0


def add_backends_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", type=Path, required=True)
    add_profile(p, "loihi2")
    p.add_argument("--lava-samples", type=positive_int, default=100, help="samples in Lava's long run")
    p.add_argument("--emulator-batch", type=positive_int, default=256, help="samples per emulator batch")
    p.add_argument("--out", required=True, type=Path)


def run_backends(args: argparse.Namespace) -> int:
    from neuroattack.bench import bench_backends
    from neuroattack.data.datasets import load_dataset
    from neuroattack.fileio import write_json
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.replay import hardware_spikes

    model, config = load_checkpoint(args.checkpoint)
    batch = args.emulator_batch
    data = load_dataset(config["dataset"], "test", max(batch, args.lava_samples), config["timesteps"])
    spikes = hardware_spikes(data.x, config["encoding"], config["timesteps"], torch.Generator().manual_seed(0))
    report = bench_backends(model, spikes, args.profile, lava_samples=args.lava_samples, batch_size=batch)
    report["checkpoint"] = str(args.checkpoint)
    write_json(args.out, report)
    for key in (
        "emulator_samples_per_s",
        "lava_long_run_samples_per_s",
        "lava_fresh_per_sample_samples_per_s",
        "emulator_over_lava_ratio",
        "output_spike_match_fraction",
        "int8_product_limit_samples_per_s",
        "emulator_fraction_of_int8_product_limit",
    ):
        print(f"{key}: {report[key]:.4g}")
    return 0


BENCH_ATTACKS = Command(
    "bench attacks", "seconds per PGD iteration per gradient estimator (JSON)", add_attacks_arguments, run_attacks
)
BENCH_BACKENDS = Command(
    "bench backends", "emulator vs Lava samples per second and spike match (JSON)", add_backends_arguments, run_backends
)
