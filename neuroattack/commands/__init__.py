"""The command registry: one module a command, its arguments beside its handler.

Each command module defines ``COMMAND = Command(name, help, add_arguments, run)``;
:data:`COMMANDS` lists them in the order ``neuroattack --help`` shows, and
:func:`neuroattack.cli.build_parser` builds the whole command line from it. A name with a space
(``"bench backends"``) is a sub-command of a group (``neuroattack bench backends ...``).
"""

from __future__ import annotations

from neuroattack.commands.attack import COMMAND as ATTACK
from neuroattack.commands.base import Command
from neuroattack.commands.bench import BENCH_ATTACKS, BENCH_BACKENDS
from neuroattack.commands.curve import COMMAND as CURVE
from neuroattack.commands.demo import COMMAND as DEMO
from neuroattack.commands.evaluate import COMMAND as EVALUATE
from neuroattack.commands.export import COMMAND as EXPORT
from neuroattack.commands.export_events import COMMAND as EXPORT_EVENTS
from neuroattack.commands.inspect import COMMAND as INSPECT
from neuroattack.commands.replay import COMMAND as REPLAY
from neuroattack.commands.report import COMMAND as REPORT
from neuroattack.commands.train import COMMAND as TRAIN

COMMANDS: list[Command] = [
    TRAIN,
    EVALUATE,
    EXPORT,
    INSPECT,
    ATTACK,
    REPLAY,
    CURVE,
    EXPORT_EVENTS,
    REPORT,
    BENCH_ATTACKS,
    BENCH_BACKENDS,
    DEMO,
]

__all__ = ["COMMANDS", "Command"]
