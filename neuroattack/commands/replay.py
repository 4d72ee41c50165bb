"""``neuroattack replay``: run saved clean and adversarial streams on a backend."""

from __future__ import annotations

import argparse
import dataclasses
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
    p.add_argument(
        "--seed", type=int, default=None, help="Bernoulli draws of image streams (default: the attack's seed)"
    )
    p.add_argument("--store", type=Path, default=None, help="also record the run in this results store")
    p.add_argument("--out", required=True, type=Path)
    add_device(p)
    add_force(p)


def run(args: argparse.Namespace) -> int:
    import time

    from neuroattack.attacks.streams import load_streams, streams_digest
    from neuroattack.device import resolve_device
    from neuroattack.experiments.pipeline import SPEC_FILE, RunSpec, read_spec, read_summary, record, replay
    from neuroattack.experiments.run_record import RunResult
    from neuroattack.experiments.store import record_run
    from neuroattack.fileio import write_json

    device = str(resolve_device(args.device))
    started = time.time()
    source = args.checkpoint or args.graph
    refuse_overwrite(
        [args.out / "replay.json", *([args.store] if args.store else [])], [source, args.streams], args.force
    )
    graph = network_config(args)
    streams = load_streams(args.streams)
    if graph is None:
        from neuroattack.fileio import read_json

        config = read_json(args.checkpoint / "config.json")
        if streams.encoding != config["encoding"] or streams.timesteps != config["timesteps"]:
            raise ValueError(
                f"streams were made for a {streams.encoding} model with T={streams.timesteps}; the checkpoint "
                f"takes {config['encoding']} input with T={config['timesteps']}"
            )
    replay_args = {
        "checkpoint": str(source),
        "backend": args.backend,
        "profile": str(args.profile),
        "hw_n": args.n,
        "draws": args.draws,
        "device": device,
    }
    if args.graph is not None:
        replay_args.update(dt=args.dt, framework=args.framework, reset=args.reset, readout=args.readout)
    if args.store is not None or (args.streams / SPEC_FILE).is_file():
        # the run as its crafting recorded it: keyed as a sweep of the same run keys it
        spec = dataclasses.replace(read_spec(args.streams), **replay_args)
    else:  # streams written by another tool: only the deployment matters, and nothing is stored
        how = {"dataset": "unrecorded", "encoding": streams.encoding, "timesteps": streams.timesteps}
        attack = streams.settings.get("attack", "unrecorded")
        spec = RunSpec(attack=attack, **replay_args, **(how if args.graph else {}))
    if args.seed is not None and args.seed != spec.seed:
        spec = dataclasses.replace(spec, replay_seed=args.seed)
    metrics = replay(spec, args.streams, progress=True)
    profile = spec.profile_name
    result = {"hardware": metrics.to_json(), "backend": args.backend, "profile": profile, "streams": str(args.streams)}
    if args.store is not None:  # first: replay.json is there only once the store holds the run
        run = RunResult(read_summary(args.streams), metrics, round(time.time() - started, 2))
        artifacts = {"streams": str(args.streams), "streams_digest": streams_digest(args.streams)}
        record_run(args.store, record(spec, run, artifacts, started))
    write_json(args.out / "replay.json", result)
    m = metrics
    print(
        f"{args.backend}/{profile} on {m.n} inputs: "
        f"hardware clean accuracy {rate(m.hw_clean_accuracy)}, "
        f"hardware ASR {rate(m.hw_asr)} (sim {rate(m.sim_asr)}), "
        f"transfer {rate(m.transfer_rate)}, "
        f"agreement clean/adv {rate(m.agreement_clean)}/{rate(m.agreement_adv)} -> {args.out}"
    )
    return 0


COMMAND = Command("replay", "run saved clean and adversarial streams on a backend", add_arguments, run)
