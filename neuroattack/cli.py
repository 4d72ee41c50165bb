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


def main(argv: list[str] | None = None) -> int:
    """Run one command; a ``ValueError`` or ``FileNotFoundError`` is one error line and exit 2; a
    Lava run stopped by SIGINT/SIGTERM is one line and exit ``128 + signal`` (Lava already stopped)."""
    from backends.lava import Interrupted

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"neuroattack {args.command_name}: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as err:
        print(f"neuroattack {args.command_name}: {err}", file=sys.stderr)
        return 128 + err.signum


if __name__ == "__main__":
    sys.exit(main())
