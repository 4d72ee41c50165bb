"""``neuroattack`` command line, built from the command registry (:mod:`neuroattack.commands`)."""

from __future__ import annotations

import argparse
import sys

from neuroattack.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one sub-parser per registered command (groups for ``bench``)."""
    parser = argparse.ArgumentParser(
        prog="neuroattack",
        description="Adversarial attacks on spiking neural networks, from Norse to Loihi-style hardware.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for command in COMMANDS:
        if " " in command.name:
            group, name = command.name.split(" ", 1)
            if group not in groups:
                gp = sub.add_parser(group, help=f"{group} commands")
                groups[group] = gp.add_subparsers(dest="subcommand", required=True)
            p = groups[group].add_parser(name, help=command.help, description=command.help)
        else:
            p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.set_defaults(handler=command.run, command_name=command.name)
    return parser


def _check_profile(profile: str | None) -> None:
    """Read ``--profile`` before any work: a bad one is one line naming it (an ``extends`` cycle
    through a relative path, or TOML nested too deeply, recurse without end in the reader)."""
    import backends

    if profile is None:
        return
    try:
        backends.load_profile(profile)
    except RecursionError:
        raise ValueError(
            f"hardware profile {profile}: nested too deeply, or its 'extends' chain leads back to itself"
        ) from None


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input, a file that cannot be read or written (``OSError``, named by
    its path) and a broken store are one error line and exit 2; Ctrl-C is one line and exit 130; a
    Lava run or a sweep stopped by SIGINT/SIGTERM is one line and exit ``128 + signal`` (Lava already
    stopped; a sweep's finished runs stored)."""
    import sqlite3

    from backends.lava import Interrupted
    from neuroattack.experiments.sweep import SweepStopped

    args = build_parser().parse_args(argv)
    name = args.command_name
    try:
        _check_profile(getattr(args, "profile", None))
        return args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"neuroattack {name}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a path that cannot be read or written: named, as the system says why
        where = err.filename if err.filename is not None else None
        why = err.strerror or str(err)
        print(
            f"neuroattack {name}: error: {where}: {why}" if where else f"neuroattack {name}: error: {why}",
            file=sys.stderr,
        )
        return 2
    except sqlite3.Error as err:
        print(f"neuroattack {name}: error: results store: {err}", file=sys.stderr)
        return 2
    except RecursionError:
        print(f"neuroattack {name}: error: an input is nested too deeply (or refers to itself)", file=sys.stderr)
        return 2
    except (Interrupted, SweepStopped) as err:
        print(f"neuroattack {name}: {err}", file=sys.stderr)
        return 128 + err.signum
    except KeyboardInterrupt:
        print(f"neuroattack {name}: interrupted (SIGINT); files being written were left as they were", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
