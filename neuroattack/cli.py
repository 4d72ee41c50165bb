"""``neuroattack`` command line: train | evaluate | attack | export | replay | report | bench | demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import torch

DEFAULT_SPECS = {
    "digits": "256FC-10FC",
    "mnist": "16C5-AP2-32C5-AP2-10FC",
    "nmnist-sim": "256FC-10FC",
}
DEFAULT_EPOCHS = {"digits": 30, "mnist": 4, "nmnist-sim": 8}

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


def _neuron_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lambda", dest="leak", type=float, default=0.5, help="membrane leak per step (1 = IF)")
    p.add_argument("--threshold", type=float, default=1.0)
    p.add_argument("--reset", choices=["hard", "soft"], default="hard")
    p.add_argument("--synapse", choices=["none", "current"], default="none")
    p.add_argument("--surrogate", choices=["rect", "triangle", "superspike"], default="rect")
    p.add_argument("--surrogate-width", type=float, default=3.0, help="rect/triangle width or SuperSpike alpha")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuroattack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train an SNN (or its ANN twin) with BPTT")
    p.add_argument("--dataset", choices=sorted(DEFAULT_SPECS), default="digits")
    p.add_argument("--model", default=None, help="spec string, e.g. '128C3-AP2-1024FC-10FC'")
    p.add_argument("--model-type", choices=["snn", "ann"], default="snn")
    p.add_argument("--loss", choices=["mse", "ce"], default="mse")
    p.add_argument("--timesteps", type=int, default=8)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=int, default=None, help="first N training samples")
    p.add_argument("--n-test", type=int, default=None, help="first N test/validation samples")
    p.add_argument("--encoding", choices=["bernoulli", "direct", "events"], default=None)
    _neuron_args(p)
    p.add_argument("--out", required=True, type=Path)

    p = sub.add_parser("evaluate", help="accuracy of a checkpoint (in simulation or on a backend)")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--n", type=int, default=None, help="first N test samples")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="JSON file (default CHECKPOINT/evaluation.json)")

    p = sub.add_parser("demo", help="end-to-end demo on the bundled data")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    return parser


@command("train")
def _train(args: argparse.Namespace) -> int:
    from neuroattack.models.neurons import NeuronConfig
    from neuroattack.train import TrainConfig, train

    cfg = TrainConfig(
        dataset=args.dataset,
        spec=args.model or DEFAULT_SPECS[args.dataset],
        model_type=args.model_type,
        loss=args.loss,
        timesteps=args.timesteps,
        epochs=args.epochs or DEFAULT_EPOCHS[args.dataset],
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        n_train=args.n_train,
        n_test=args.n_test,
        encoding=args.encoding,
        neuron=NeuronConfig(
            leak=args.leak,
            threshold=args.threshold,
            reset=args.reset,
            synapse=args.synapse,
            surrogate=args.surrogate,
            surrogate_width=args.surrogate_width,
        ),
    )
    _, metrics = train(cfg, args.out)
    print(
        f"{cfg.dataset} {cfg.model_type} {cfg.spec}: test accuracy {metrics['test_accuracy']:.4f} "
        f"(val {metrics['val_accuracy']:.4f}), trained in {metrics['train_seconds']:.1f} s -> {args.out}"
    )
    return 0


@command("evaluate")
def _evaluate(args: argparse.Namespace) -> int:
    from neuroattack.data.datasets import load_dataset
    from neuroattack.fileio import write_json
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.train import evaluate

    model, config = load_checkpoint(args.checkpoint)
    data = load_dataset(config["dataset"], "test", args.n, config["timesteps"])
    acc = evaluate(model, data, config["encoding"], config["timesteps"], seed=args.seed, progress=True)
    result = {"test_accuracy": acc, "n_test": len(data), "backend": "norse"}
    write_json(args.out or args.checkpoint / "evaluation.json", result)
    print(f"test accuracy {acc:.4f} on {len(data)} {config['dataset']} samples (backend norse)")
    return 0


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from neuroattack.train import TrainConfig, train

    cfg = TrainConfig(
        dataset="nmnist-sim", spec=DEFAULT_SPECS["nmnist-sim"], epochs=3, n_train=5000, n_test=1000
    )
    _, metrics = train(cfg, args.out / "nmnist-sim")
    print(f"demo: nmnist-sim {cfg.spec} test accuracy {metrics['test_accuracy']:.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as err:
        print(f"neuroattack {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
