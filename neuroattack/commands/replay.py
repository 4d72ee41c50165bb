"""``neuroattack replay``: run saved clean and adversarial streams on a backend."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuroattack.commands.base import (
    Command,
    add_device,
    add_force,
    add_network,
    add_profile,
    network_config,
    positive_int,
    rate,
    refuse_overwrite,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_network(p, "any network as a NIR file (its float twin gives the sim side)", data=False)
    p.add_argument("--streams", required=True, type=Path, help="directory written by 'neuroattack attack'")
    p.add_argument("--backend", choices=["lava", "emulator", "reference"], default="emulator")
    add_profile(p, "loihi2")
    p.add_argument("--n", type=positive_int, default=None, help="first N streams (Lava is slow)")
    p.add_argument("--draws", type=positive_int, default=5, help="Bernoulli draws for image streams")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--store", type=Path, default=None, help="also record the run in this results store")
    p.add_argument("--out", required=True, type=Path)
    add_device(p)
    add_force(p)


def run(args: argparse.Namespace) -> int:
    import time

    from neuroattack.attacks.streams import load_streams
    from neuroattack.device import resolve_device
    from neuroattack.experiments.store import record_run
    from neuroattack.fileio import write_json
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.replay import deploy, replay_streams

    device = resolve_device(args.device)
    started = time.time()
    source = args.checkpoint or args.graph
    refuse_overwrite([args.out / "replay.json"], [source, args.streams], args.force)
    streams = load_streams(args.streams)
    if network_config(args) is None:
        model, config = load_checkpoint(args.checkpoint)
        if streams.encoding != config["encoding"] or streams.timesteps != config["timesteps"]:
            raise ValueError(
                f"streams were made for a {streams.encoding} model with T={streams.timesteps}; the checkpoint "
                f"takes {config['encoding']} input with T={config['timesteps']}"
            )
        executor = deploy(model, args.backend, args.profile, config["timesteps"], device=device)
    else:
        import backends
        from neuroattack.victims import NIRSNN

        model = NIRSNN(args.graph, args.dt, args.framework)
        executor = backends.load(
            args.graph, args.profile, args.backend, dt=args.dt, framework=args.framework, device=device
        )
    if args.n is not None:
        streams = streams.head(args.n)
    metrics = replay_streams(model, streams, executor, draws=args.draws, seed=args.seed, device=device)
    profile = executor.profile.name
    result = {"hardware": metrics, "backend": args.backend, "profile": profile, "streams": str(args.streams)}
    write_json(args.out / "replay.json", result)
    if args.store is not None:
        from neuroattack.attacks.streams import streams_digest
        from neuroattack.fileio import digest_files
        from neuroattack.models.checkpoint import checkpoint_digest

        settings = {
            **streams.settings,
            "n": len(streams),
            "draws": args.draws,
            "seed": args.seed,
            "model_digest": checkpoint_digest(args.checkpoint)
            if args.checkpoint
            else digest_files([args.graph], f"NIR graph {args.graph}"),
            "profile_digest": executor.profile.digest(),
            "streams_digest": streams_digest(args.streams),
        }
        attack = f"{streams.settings.get('attack', '?')}/{streams.settings.get('grad', '?')}"
        record_run(
            args.store,
            source.name,
            attack,
            settings,
            args.backend,
            profile,
            {"hardware": metrics},
            {"streams": str(args.streams)},
            started,
        )
    print(
        f"{args.backend}/{profile} on {len(streams)} inputs: "
        f"hardware clean accuracy {rate(metrics['hw_clean_accuracy'])}, "
        f"hardware ASR {rate(metrics['hw_asr'])} (sim {rate(metrics['sim_asr'])}), "
        f"transfer {rate(metrics['transfer_rate'])}, "
        f"agreement clean/adv {rate(metrics['agreement_clean'])}/{rate(metrics['agreement_adv'])} -> {args.out}"
    )
    return 0


COMMAND = Command("replay", "run saved clean and adversarial streams on a backend", add_arguments, run)
