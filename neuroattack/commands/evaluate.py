"""``neuroattack evaluate``: test accuracy of a checkpoint (or any NIR file) in simulation or on a backend."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from neuroattack.commands.base import (
    Command,
    add_device,
    add_force,
    add_network,
    add_profile,
    add_split,
    network_config,
    positive_int,
    refuse_overwrite,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_network(p, "any network as a NIR file (run on --backend)")
    p.add_argument("--n", type=positive_int, default=None, help="first N samples of the split")
    add_split(p)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--backend",
        choices=["norse", "lava", "emulator", "reference"],
        default="norse",
        help="norse: the trained model itself; others run its exported NIR graph",
    )
    add_profile(p, None)
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--out", type=Path, default=None, help="JSON file (default CHECKPOINT/evaluation.json)")
    add_device(p)
    add_force(p)


def run(args: argparse.Namespace) -> int:
    from neuroattack.data.datasets import load_dataset
    from neuroattack.decision import decide
    from neuroattack.device import resolve_device
    from neuroattack.fileio import write_json
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.train import evaluate

    device = resolve_device(args.device)
    config = network_config(args)
    if config is not None:
        if args.out is None:
            raise ValueError("--graph needs --out (the JSON file)")
        if args.backend == "norse":
            raise ValueError("a NIR file runs on a backend: --backend reference (float), emulator or lava")
    out = args.out or args.checkpoint / "evaluation.json"
    refuse_overwrite([out], [args.checkpoint or args.graph, args.data_root], args.force)
    if config is None:
        model, config = load_checkpoint(args.checkpoint)
    data = load_dataset(config["dataset"], args.split, args.n, config["timesteps"], root=args.data_root)
    result = {
        "n_test": len(data),
        "split": args.split,
        "backend": args.backend,
        "profile": None,
        "device": str(device),
    }
    if args.backend == "norse":
        if args.profile is not None:
            raise ValueError("--profile needs a hardware backend (lava, emulator, reference)")
        acc = evaluate(model.to(device), data, config["encoding"], config["timesteps"], seed=args.seed, progress=True)
    else:
        import backends
        from neuroattack.replay import deploy, hardware_spikes, run_on

        if args.graph is not None:  # a NIR file: loaded as it is
            executor = backends.load(
                args.graph,
                args.profile,
                args.backend,
                dt=args.dt,
                framework=args.framework,
                device=device,
                reset=args.reset,
                readout=args.readout or "max",
            )
        else:
            executor = deploy(model, args.backend, args.profile, config["timesteps"], device=device)
        spikes = hardware_spikes(
            data.x, config["encoding"], config["timesteps"], torch.Generator().manual_seed(args.seed)
        )
        preds = decide(run_on(executor, spikes, args.batch_size, progress=True, desc=args.backend))
        acc = float((preds == data.y).float().mean())
        result["profile"] = executor.profile.name
        if getattr(executor, "qnet", None) is not None:
            result["quantization"] = backends.quantization_report(executor.qnet)
            for row in result["quantization"]:
                print(
                    f"  {row['population']}: scale {row['scale']:.4g}, weight_exp {list(row['weight_exps'])}, "
                    "weight rel. RMS error "
                    f"{row['weight_rel_rms_error']:.4f}, threshold rel. error {row['threshold_rel_error']:.2e}, "
                    f"dv error {row['dv_max_error']:.2g}"
                )
    result[f"{args.split}_accuracy"] = acc  # test_accuracy on the test split, as train writes it
    write_json(out, result)
    on = args.backend if args.backend == "norse" else f"{args.backend}, profile {result['profile']}"
    print(f"{args.split} accuracy {acc:.4f} on {len(data)} {config['dataset']} samples (backend {on}) -> {out}")
    return 0


COMMAND = Command(
    "evaluate", "accuracy of a checkpoint or NIR file (in simulation or on a backend)", add_arguments, run
)
