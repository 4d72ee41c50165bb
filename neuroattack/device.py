"""Which device a run computes on: ``--device cpu|cuda|auto`` and ``device=`` in the Python API.

``auto`` (the CLI's default) takes the first CUDA device when torch sees one, else the CPU. What
runs where: training, the float models and the attacks run on the device; the emulator and the
hardware-in-the-loop twin run there too and give the CPU's spikes exactly (integer arithmetic;
see :func:`backends.emulator.exact_arithmetic`); Lava runs on the CPU, as lava-nc does; random
draws come from CPU generators (:mod:`neuroattack.draws`), so a seed draws the same numbers on
every device.
"""

from __future__ import annotations

import torch

CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` that ``name`` means here.

    Args:
        name: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``.

    Returns:
        the device; ``auto`` gives ``cuda`` when ``torch.cuda.is_available()``, else ``cpu``.

    Raises:
        ValueError: a CUDA device is asked for and torch sees none, or the name is not a device.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("auto").type in ("cpu", "cuda")
        True
    """
    if isinstance(name, str) and name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device: expected one of {', '.join(CHOICES)} or cuda:N, got {name!r}") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name}: torch sees no CUDA device here (use --device cpu or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name}: torch sees {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise ValueError(f"device: expected one of {', '.join(CHOICES)} or cuda:N, got {name!r}")
    return device
