"""What the study scripts (``scripts/``) share: models trained once, a sweep, a report.

Every study is one command (``python scripts/<study>.py``) that trains the models it needs into
``--models`` (reused when present), runs its sweep into the results store ``--store`` (resuming
where an interrupted run stopped; ``--executor ray`` for a Ray cluster) and writes a report.
``--quick`` shrinks data and models so that a study finishes in minutes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from neuroattack.data.datasets import DATASETS
from neuroattack.experiments.pipeline import RunSpec
from neuroattack.experiments.report import build_report, summary_table
from neuroattack.experiments.sweep import SweepStopped, run_sweep
from neuroattack.fileio import read_json
from neuroattack.models.neurons import NeuronConfig
from neuroattack.train import TrainConfig, train


def ensure_model(name: str, cfg: TrainConfig, models_dir: str | Path, device: str = "cpu") -> Path:
    """Train ``cfg`` into ``models_dir/name`` on ``device`` unless a finished checkpoint is already there."""
    path = Path(models_dir) / name
    if (path / "metrics.json").is_file():
        return path
    _, metrics = train(cfg, path, device=device)
    print(
        f"trained {name} ({cfg.model_type} {cfg.spec}, {cfg.dataset}): test accuracy "
        f"{metrics['test_accuracy']:.4f} in {metrics['train_seconds']:.0f} s"
    )
    return path


def nmnist_snn(models: str | Path, quick: bool, loss: str = "mse", seed: int = 0, device: str = "cpu") -> str:
    """The default nmnist-sim SNN (512FC-10FC, all 50k samples; quick: 256FC on 4k), trained with
    ``loss`` from ``seed`` on ``device`` (``models/nmnist-sim[-loss][-sN]``)."""
    suffix = ("" if loss == "mse" else f"-{loss}") + (f"-s{seed}" if seed else "")
    if quick:
        cfg = TrainConfig(
            dataset="nmnist-sim", spec="256FC-10FC", loss=loss, seed=seed, epochs=6, n_train=4000, n_test=500
        )
        return str(ensure_model(f"nmnist-sim-quick-{loss}" + (f"-s{seed}" if seed else ""), cfg, models, device))
    info = DATASETS["nmnist-sim"]
    cfg = TrainConfig(
        dataset="nmnist-sim", spec=info.default_spec, loss=loss, seed=seed, epochs=info.default_epochs, n_test=2000
    )
    return str(ensure_model("nmnist-sim" + suffix, cfg, models, device))


def mnist_model(
    models: str | Path,
    quick: bool,
    leak: float = 0.5,
    timesteps: int = 8,
    seed: int = 0,
    loss: str = "mse",
    model_type: str = "snn",
    encoding: str = "bernoulli",
    device: str = "cpu",
) -> str:
    """An MNIST model: the default conv SNN (16C5-AP2-32C5-AP2-10FC, all 50k; quick: 128FC on 10k)
    with the given leak, time-steps, seed, loss and input coding, or its ANN twin (``model_type='ann'``),
    trained on ``device`` where it is not already in ``models``."""
    spec = "128FC-10FC" if quick else DATASETS["mnist"].default_spec
    cfg = TrainConfig(
        dataset="mnist",
        spec=spec,
        model_type=model_type,
        loss="ce" if model_type == "ann" else loss,
        timesteps=timesteps,
        seed=seed,
        epochs=3 if quick else DATASETS["mnist"].default_epochs,
        n_train=10000 if quick else None,
        n_test=500 if quick else 2000,
        neuron=NeuronConfig(leak=leak),
        encoding=encoding,
    )
    if model_type == "ann":
        name = "mnist-ann" + (f"-s{seed}" if seed else "")
    else:
        name = "mnist" + "".join(
            f"-{k}{v}"
            for k, v, default in (
                ("l", leak, 0.5),
                ("T", timesteps, 8),
                ("s", seed, 0),
                ("", loss, "mse"),
                ("", encoding, "bernoulli"),
            )
            if v != default
        )
    return str(ensure_model(name + ("-quick" if quick else ""), cfg, models, device))


def accuracy(path: str | Path) -> float:
    return read_json(Path(path) / "metrics.json")["test_accuracy"]


def study_main(
    description: str,
    build: Callable[[argparse.Namespace], list[RunSpec]],
    name: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    findings: Callable[[argparse.Namespace, Path], str] | None = None,
) -> None:
    """Parse the common options (and the study's own, from ``add_arguments``), build the runs,
    sweep them into the store, report; ``findings(args, store)`` adds a Markdown section (printed
    and written to the report folder as ``findings.md``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store", type=Path, default=Path(f"runs/{name}/results.sqlite"))
    parser.add_argument("--models", type=Path, default=Path("runs/models"))
    parser.add_argument("--work", type=Path, default=None, help="crafted streams cache (default next to the store)")
    parser.add_argument("--report", type=Path, default=None, help="report directory (default next to the store)")
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--address", default=None, help="Ray cluster address (ray.init(address=...))")
    parser.add_argument("--quick", action="store_true", help="small data and models: minutes, not hours")
    parser.add_argument("--n", type=int, default=None, help="test inputs attacked per run")
    parser.add_argument("--device", default="cpu", help="where runs compute: cpu, cuda, cuda:N or auto")
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    from dataclasses import replace

    from neuroattack.device import resolve_device

    device = str(resolve_device(args.device))
    args.device = device  # the models a study trains train there too
    specs = [replace(spec, device=device) for spec in build(args)]
    try:
        counts = run_sweep(specs, args.store, args.work or args.store.parent / "work", args.executor, args.address)
    except SweepStopped as stop:  # one line; every finished run is in the store, a rerun resumes
        print(f"{name}: {stop}", file=sys.stderr)
        raise SystemExit(128 + stop.signum) from None
    html = build_report(args.store, args.report or args.store.parent / "report", title=description)
    print(summary_table(args.store))
    if findings is not None:
        text = findings(args, args.store)
        (html.parent / "findings.md").write_text(text + "\n")
        print(text)
    print(f"{counts['done']} runs done, {counts['skipped']} already in {args.store}; report: {html}")
