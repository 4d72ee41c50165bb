"""The ``neuroattack`` program's entry point: the process settings a library may not set, then the CLI.

torch's OpenMP threads spin while they wait for work (GNU OpenMP's default, read once when torch is
loaded). On a machine shared with other work that spinning takes the cores the emulator's next
batch needs: with one competing busy process on two cores the emulator fell to 31,000 samples/s,
and to 54,000 with ``OMP_WAIT_POLICY=PASSIVE`` (its quiet rate: 75,000-93,000; ``neuroattack bench
backends --competing 1``). So the program, before anything imports torch, makes waiting threads
sleep unless the user chose otherwise. Importing :mod:`neuroattack` as a library changes nothing.
"""

from __future__ import annotations

import os


def main() -> int:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` (unless set), then run :func:`neuroattack.cli.main`.

    Example:
        >>> main()  # what the ``neuroattack`` script runs  # doctest: +SKIP
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from neuroattack.cli import main as cli_main

    return cli_main()
