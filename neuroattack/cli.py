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
    "nmnist-sim": "512FC-10FC",
}
DEFAULT_EPOCHS = {"digits": 30, "mnist": 4, "nmnist-sim": 15}

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


def _rate(value: float | None) -> str:
    """A rate for the one-line summaries: 4 decimals, ``n/a`` where it is undefined."""
    return "n/a" if value is None else f"{value:.4f}"


def _fraction(text: str) -> float:
    """Parse ``0.03`` or ``8/255``."""
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError) as err:
        raise argparse.ArgumentTypeError(f"not a number or fraction: {text!r}") from err


ATTACK_OPTIONS = {
    "fgsm": {"eps"},
    "pgd": {"eps", "alpha", "steps"},
    "bim": {"eps", "alpha", "steps"},
    "g2s-rsf": {"eps", "iters", "gamma", "sampling", "rsf"},
    "cwl2": {"eps", "iters", "gamma", "sampling", "rsf", "c"},
}


def attack_options(args: argparse.Namespace) -> dict:
    """The keyword options of ``args.attack`` from the CLI flags; a flag that does not apply is an error."""
    given = {
        "eps": args.eps,
        "alpha": args.alpha,
        "steps": args.steps,
        "iters": args.iters,
        "gamma": args.gamma,
        "c": args.c,
        "sampling": False if args.no_sampling else None,
        "rsf": False if args.no_rsf else None,
    }
    allowed = ATTACK_OPTIONS[args.attack]
    wrong = sorted(k for k, v in given.items() if v is not None and k not in allowed)
    if wrong:
        flags = ", ".join("--" + {"sampling": "no-sampling", "rsf": "no-rsf"}.get(k, k) for k in wrong)
        raise ValueError(f"{flags} do(es) not apply to --attack {args.attack}")
    options = {k: v for k, v in given.items() if v is not None}
    grad_options = {}
    if args.hart_gamma is not None:
        if args.grad != "hart":
            raise ValueError("--hart-gamma applies to --grad hart only")
        grad_options["gamma"] = args.hart_gamma
    options.update(
        targeted=args.targeted,
        eot=args.eot,
        eval_draws=args.eval_draws,
        penultimate_threshold=args.penultimate_threshold,
        seed=args.seed,
        grad_options=grad_options,
    )
    if args.loss is not None:
        options["loss"] = args.loss
    return options


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
    p.add_argument("--backend", choices=["norse", "lava", "emulator", "reference"], default="norse",
                   help="norse: the trained model itself; others run its exported NIR graph")
    p.add_argument("--profile", default=None, help="hardware profile: a bundled name (loihi2, loihi2-w6, ...) or a TOML path (default float)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--out", type=Path, default=None, help="JSON file (default CHECKPOINT/evaluation.json)")

    p = sub.add_parser("export", help="export a checkpoint to NIR (validated against Norse)")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="the .nir file")

    p = sub.add_parser("attack", help="attack a checkpoint on its test data and save the adversarial streams")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--attack", choices=["g2s-rsf", "fgsm", "pgd", "bim", "cwl2"], required=True)
    p.add_argument("--grad", choices=["stbp", "bptr", "rga", "hart", "cba"], default="stbp")
    p.add_argument("--targeted", action="store_true", help="Liang's protocol: every class but the true one")
    p.add_argument("--eps", type=_fraction, default=None,
                   help="fgsm/pgd/bim: L-inf radius (default 8/255); g2s-rsf/cwl2: bound on L2/N (default none)")
    p.add_argument("--alpha", type=_fraction, default=None, help="pgd/bim step (default 2/255)")
    p.add_argument("--steps", type=int, default=None, help="pgd/bim iterations (default 7)")
    p.add_argument("--iters", type=int, default=None, help="g2s-rsf/cwl2 iterations (default 25)")
    p.add_argument("--gamma", type=float, default=None, help="g2s-rsf/cwl2: RSF sampling factor (default 0.05)")
    p.add_argument("--hart-gamma", type=float, default=None, help="width of HART's triangle surrogate (default 1.0)")
    p.add_argument("--c", type=float, default=None, help="cwl2 regularisation (default 0.1)")
    p.add_argument("--no-sampling", action="store_true", help="g2s-rsf ablation: G2S without probabilistic sampling")
    p.add_argument("--no-rsf", action="store_true", help="g2s-rsf ablation: RSF off")
    p.add_argument("--penultimate-threshold", type=float, default=None, help="Liang V-B, while crafting only")
    p.add_argument("--loss", choices=["mse", "ce"], default=None, help="default: the model's training loss")
    p.add_argument("--eot", type=int, default=1, help="Bernoulli encodings averaged per gradient")
    p.add_argument("--eval-draws", type=int, default=8, help="Bernoulli encodings judging success")
    p.add_argument("--surrogate", type=Path, default=None, help="black-box: craft on this checkpoint")
    p.add_argument("--n", type=int, default=None, help="first N test samples")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path)

    p = sub.add_parser("replay", help="run saved clean and adversarial streams on a backend")
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--streams", required=True, type=Path, help="directory written by 'neuroattack attack'")
    p.add_argument("--backend", choices=["lava", "emulator", "reference"], default="emulator")
    p.add_argument("--profile", default="loihi2", help="hardware profile: a bundled name or a TOML path")
    p.add_argument("--n", type=int, default=None, help="first N streams (Lava is slow)")
    p.add_argument("--draws", type=int, default=5, help="Bernoulli draws for image streams")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--store", type=Path, default=None, help="also record the run in this results store")
    p.add_argument("--out", required=True, type=Path)

    p = sub.add_parser("report", help="Markdown + HTML report with plots from a results store")
    p.add_argument("--store", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)

    p = sub.add_parser("bench", help="speed benchmarks written as JSON")
    p.add_argument("target", choices=["attacks", "backends"])
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="attacks: default an untrained MNIST default model; backends: required")
    p.add_argument("--profile", default="loihi2", help="backends: hardware profile (a bundled name or a TOML path)")
    p.add_argument("--lava-samples", type=int, default=100, help="backends: samples in Lava's long run")
    p.add_argument("--batch", type=int, default=None, help="attacks: 64; backends: emulator batch 256")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", required=True, type=Path)

    p = sub.add_parser("demo", help="end-to-end demo on the bundled data")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.add_argument("--n", type=int, default=100, help="test inputs attacked per model")
    p.add_argument("--lava-n", type=int, default=20, help="of those, replayed on Lava")
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
    result = {"n_test": len(data), "backend": args.backend, "profile": None}
    if args.backend == "norse":
        if args.profile is not None:
            raise ValueError("--profile needs a hardware backend (lava, emulator, reference)")
        acc = evaluate(model, data, config["encoding"], config["timesteps"], seed=args.seed, progress=True)
    else:
        from neuroattack.replay import deploy, hardware_spikes, run_on

        executor = deploy(model, args.backend, args.profile, config["timesteps"])
        spikes = hardware_spikes(data.x, config["encoding"], config["timesteps"], torch.Generator().manual_seed(args.seed))
        preds = run_on(executor, spikes, args.batch_size, progress=True, desc=args.backend).argmax(-1)
        acc = float((preds == data.y).float().mean())
        result["profile"] = getattr(getattr(executor, "profile", None), "name", "float")
        if getattr(executor, "int_layers", None):
            import backends

            result["quantization"] = backends.quantization_report(executor.int_layers)
            for row in result["quantization"]:
                print(f"  {row['layer']}: scale {row['scale']:.4g}, weight_exp {row['weight_exp']}, weight rel. RMS error "
                      f"{row['weight_rel_rms_error']:.4f}, threshold rel. error {row['threshold_rel_error']:.2e}, "
                      f"dv {row['dv_float']:.4g} -> {row['dv_quantized']:.4g}")
    result["test_accuracy"] = acc
    write_json(args.out or args.checkpoint / "evaluation.json", result)
    on = args.backend if args.backend == "norse" else f"{args.backend}, profile {result['profile']}"
    print(f"test accuracy {acc:.4f} on {len(data)} {config['dataset']} samples (backend {on})")
    return 0


@command("export")
def _export(args: argparse.Namespace) -> int:
    import backends
    from neuroattack.export import export_trained

    graph = export_trained(args.checkpoint, args.out)
    nodes = ", ".join(f"{k}:{type(v).__name__}" for k, v in graph.nodes.items())
    print(f"wrote {args.out} ({nodes}); Norse re-import reproduces the model's spikes exactly")
    print("on Lava:\n  " + "\n  ".join(backends.describe_lowering(backends.lower(graph))))
    return 0


@command("attack")
def _attack(args: argparse.Namespace) -> int:
    from neuroattack.attacks.runner import run_attack
    from neuroattack.attacks.streams import save_streams
    from neuroattack.victims import Victim
    from neuroattack.data.datasets import load_dataset
    from neuroattack.fileio import read_json, write_json

    options = attack_options(args)
    victim = Victim.from_checkpoint(args.checkpoint)
    surrogate = Victim.from_checkpoint(args.surrogate) if args.surrogate else None
    config = read_json(args.checkpoint / "config.json")
    data = load_dataset(config["dataset"], "test", args.n, config["timesteps"])
    run = run_attack(victim, data, args.attack, args.grad, options, args.batch_size, surrogate)
    summary = {
        **run.summary,
        "checkpoint": str(args.checkpoint),
        "surrogate": str(args.surrogate) if args.surrogate else None,
        "dataset": config["dataset"],
    }
    save_streams(args.out, run.streams)
    write_json(args.out / "summary.json", summary)
    print(
        f"{args.attack}/{args.grad}{' targeted' if args.targeted else ''}: ASR "
        f"{_rate(summary['asr'])} over {summary['n_attacked']} correctly classified inputs; "
        f"mean perturbation {summary['mean_perturbation']}, mean iterations {summary['mean_iterations']} -> {args.out}"
    )
    return 0


@command("replay")
def _replay(args: argparse.Namespace) -> int:
    import time

    from neuroattack.attacks.streams import load_streams
    from neuroattack.fileio import write_json
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.replay import deploy, replay_streams
    from neuroattack.store import ResultStore

    started = time.time()
    model, config = load_checkpoint(args.checkpoint)
    streams = load_streams(args.streams)
    if streams.encoding != config["encoding"] or streams.timesteps != config["timesteps"]:
        raise ValueError(
            f"streams were made for a {streams.encoding} model with T={streams.timesteps}; the checkpoint "
            f"takes {config['encoding']} input with T={config['timesteps']}"
        )
    if args.n is not None:
        streams = streams.head(args.n)
    executor = deploy(model, args.backend, args.profile, config["timesteps"])
    metrics = replay_streams(model, streams, executor, draws=args.draws, seed=args.seed)
    profile = executor.profile.name
    result = {"hardware": metrics, "backend": args.backend, "profile": profile, "streams": str(args.streams)}
    write_json(args.out / "replay.json", result)
    if args.store is not None:
        settings = {**streams.settings, "n": len(streams), "draws": args.draws, "seed": args.seed}
        attack = f"{streams.settings.get('attack', '?')}/{streams.settings.get('grad', '?')}"
        with ResultStore(args.store) as store:
            store.put(args.checkpoint.name, attack, settings, args.backend, profile,
                      {"hardware": metrics}, {"streams": str(args.streams)}, started)
    print(
        f"{args.backend}/{profile} on {len(streams)} inputs: hardware clean accuracy {_rate(metrics['hw_clean_accuracy'])}, "
        f"hardware ASR {_rate(metrics['hw_asr'])} (sim {_rate(metrics['sim_asr'])}), transfer {_rate(metrics['transfer_rate'])}, "
        f"agreement clean/adv {_rate(metrics['agreement_clean'])}/{_rate(metrics['agreement_adv'])} -> {args.out}"
    )
    return 0


@command("report")
def _report(args: argparse.Namespace) -> int:
    from neuroattack.report import build_report, summary_table

    path = build_report(args.store, args.out)
    print(summary_table(args.store))
    print(f"report: {path}")
    return 0


@command("bench")
def _bench(args: argparse.Namespace) -> int:
    from neuroattack.bench import bench_attacks, bench_backends
    from neuroattack.data.datasets import load_dataset
    from neuroattack.fileio import write_json
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.models.snn import SNN

    if args.target == "backends":
        from neuroattack.replay import hardware_spikes

        if args.checkpoint is None:
            raise ValueError("bench backends needs --checkpoint")
        model, config = load_checkpoint(args.checkpoint)
        batch = args.batch or 256
        data = load_dataset(config["dataset"], "test", max(batch, args.lava_samples), config["timesteps"])
        spikes = hardware_spikes(data.x, config["encoding"], config["timesteps"], torch.Generator().manual_seed(0))
        report = bench_backends(model, spikes, args.profile, lava_samples=args.lava_samples, batch_size=batch)
        report["checkpoint"] = str(args.checkpoint)
        write_json(args.out, report)
        for key in ("emulator_samples_per_s", "lava_long_run_samples_per_s", "lava_fresh_per_sample_samples_per_s",
                    "emulator_over_lava_ratio", "output_spike_match_fraction", "arithmetic_limit_samples_per_s",
                    "emulator_fraction_of_arithmetic_limit"):
            print(f"{key}: {report[key]:.4g}")
        return 0
    if args.checkpoint is not None:
        model, config = load_checkpoint(args.checkpoint)
        dataset = config["dataset"]
    else:
        torch.manual_seed(0)
        model, dataset = SNN(DEFAULT_SPECS["mnist"], (1, 28, 28)), "mnist"
    if not isinstance(model, SNN) or dataset == "nmnist-sim":
        raise ValueError("bench attacks needs an image SNN checkpoint (the PGD iteration is on images)")
    data = load_dataset(dataset, "test", args.batch or 64)
    report = bench_attacks(model, data.x, data.y, repeats=args.repeats)
    write_json(args.out, report)
    for row in report["results"]:
        print(f"{row['estimator']:5s} T={row['timesteps']:2d}: {row['seconds_per_iteration'] * 1000:8.1f} ms/iteration")
    for key, value in report["ratios"].items():
        print(f"{key}: {value:.3f}")
    return 0


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from neuroattack.demo import run_demo

    run_demo(args.out, n=args.n, lava_n=args.lava_n)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as err:
        print(f"neuroattack {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
