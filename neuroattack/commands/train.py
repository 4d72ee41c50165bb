"""``neuroattack train``: BPTT training of an SNN (or its ANN twin) on a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuroattack.commands.base import Command, add_data_root, add_device, positive_int, refuse_overwrite


def add_arguments(p: argparse.ArgumentParser) -> None:
    from neuroattack.data.datasets import DATASETS
    from neuroattack.losses import LOSSES
    from neuroattack.models.neurons import RESETS, SURROGATES, SYNAPSES

    p.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    p.add_argument("--model", default=None, help="spec string, e.g. '128C3-AP2-1024FC-10FC' (default: the dataset's)")
    p.add_argument("--model-type", choices=["snn", "ann"], default="snn")
    p.add_argument("--loss", choices=sorted(LOSSES), default="mse")
    p.add_argument("--timesteps", type=positive_int, default=None, help="default: the dataset's (8 where none)")
    p.add_argument("--epochs", type=positive_int, default=None, help="default: the dataset's")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-train", type=positive_int, default=None, help="first N training samples")
    p.add_argument("--n-test", type=positive_int, default=None, help="first N test/validation samples")
    p.add_argument("--encoding", choices=["bernoulli", "direct", "events"], default=None)
    p.add_argument("--lambda", dest="leak", type=float, default=0.5, help="membrane leak per step (1 = IF)")
    p.add_argument("--threshold", type=float, default=1.0)
    p.add_argument("--reset", choices=list(RESETS), default="hard")
    p.add_argument("--synapse", choices=list(SYNAPSES), default="none")
    p.add_argument("--surrogate", choices=sorted(SURROGATES), default="rect")
    p.add_argument("--surrogate-width", type=float, default=3.0, help="rect/triangle width or SuperSpike alpha")
    p.add_argument("--out", required=True, type=Path)
    add_data_root(p, download=True)
    add_device(p)


def run(args: argparse.Namespace) -> int:
    from neuroattack.data.datasets import DATASETS
    from neuroattack.models.checkpoint import CHECKPOINT_FILES
    from neuroattack.models.neurons import NeuronConfig
    from neuroattack.train import TrainConfig, train

    refuse_overwrite([], [args.data_root], folders={args.out: CHECKPOINT_FILES})
    info = DATASETS[args.dataset]
    cfg = TrainConfig(
        dataset=args.dataset,
        spec=args.model or info.default_spec,
        model_type=args.model_type,
        loss=args.loss,
        timesteps=args.timesteps or info.default_timesteps or 8,
        epochs=args.epochs if args.epochs is not None else info.default_epochs,
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
    from neuroattack.device import resolve_device

    _, metrics = train(
        cfg, args.out, device=resolve_device(args.device), data_root=args.data_root, download=args.download
    )
    print(
        f"{cfg.dataset} {cfg.model_type} {cfg.spec}: test accuracy {metrics['test_accuracy']:.4f} "
        f"(val {metrics['val_accuracy']:.4f}), trained in {metrics['train_seconds']:.1f} s -> {args.out}"
    )
    return 0


COMMAND = Command("train", "train an SNN (or its ANN twin) with BPTT", add_arguments, run)
