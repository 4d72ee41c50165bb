"""Which reset a NIR graph's neurons use: ``"zero"`` (``v -> 0``) or ``"subtract"`` (``v -> v - vth``).

NIR cannot say it: a ``LIF``/``IF`` node has a ``v_reset`` field, and snnTorch, sinabs and rockpool
write ``v_reset = 0`` for neurons that in fact subtract the threshold on a spike. So the reset
comes, in this order, from:

1. ``reset`` passed by the caller (``backends.load(..., reset=...)``, ``--reset`` on the CLI);
2. the graph's ``metadata["reset"]`` (a file that says it, as it may say ``metadata["dt"]``);
3. the exporting framework's default (:data:`FRAMEWORK_RESET`), named by the caller or by
   ``metadata["framework"]``, with a warning that names it;
4. ``"zero"``, Lava's own LIF (this project's exports, Norse).

:data:`FRAMEWORK_RESET`: snnTorch's ``Leaky``/``Synaptic``/``RLeaky`` default to
``reset_mechanism="subtract"``; sinabs' ``IAF``/``LIF`` and rockpool's ``LIF`` subtract the
threshold (and may spike several times a step, which Loihi cannot: here one spike a step at most);
spyx's ``LIF`` subtracts too; Norse, SpikingJelly (``v_reset = 0``) and lava-dl reset to zero.
"""

from __future__ import annotations

import warnings

import nir

RESETS = ("zero", "subtract")
FRAMEWORK_RESET = {
    "snntorch": "subtract",
    "sinabs": "subtract",
    "rockpool": "subtract",
    "spyx": "subtract",
    "norse": "zero",
    "spikingjelly": "zero",
    "lava-dl": "zero",
}


def resolve_reset(graph: nir.NIRGraph, reset: str | None = None, framework: str | None = None) -> str:
    """The reset of ``graph``'s neurons (see the module docstring for the order of sources).

    Args:
        graph: the NIR graph (its ``metadata["reset"]`` and ``metadata["framework"]`` are read).
        reset: the caller's choice, ``"zero"`` or ``"subtract"``, or ``None``.
        framework: the exporting framework (a key of :data:`FRAMEWORK_RESET`), or ``None``.

    Returns:
        ``"zero"`` or ``"subtract"``.

    Raises:
        ValueError: a ``reset`` (or ``metadata["reset"]``) that is neither, naming where it came from.

    Example:
        >>> g = nir.NIRGraph(nodes={}, edges=[])
        >>> resolve_reset(g), resolve_reset(g, "subtract")
        ('zero', 'subtract')
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     resolve_reset(g, framework="snntorch")
        'subtract'
        >>> "reset='zero'" in str(caught[0].message)
        True
    """
    meta = graph.metadata or {}
    for value, where in ((reset, "the caller"), (meta.get("reset"), "the graph's metadata")):
        if value is not None:
            if value not in RESETS:
                raise ValueError(f"reset from {where} = {value!r} must be one of {RESETS}")
            return value
    framework = framework or meta.get("framework")
    chosen = FRAMEWORK_RESET.get(str(framework).lower()) if framework is not None else None
    if chosen is None:
        return "zero"
    other = "zero" if chosen == "subtract" else "subtract"
    warnings.warn(
        f"NIR cannot say which reset a neuron uses: assumed {framework}'s default, reset={chosen!r} "
        f"(pass reset={other!r}, --reset {other} on the CLI, if the network was trained with it)",
        stacklevel=3,
    )
    return chosen
