"""The attack registry: every attack by name, and the options each one takes, read from its class.

The command line is built from here: ``--attack`` choices are :data:`ATTACKS`, and each attack's
own flags (``--eps``, ``--steps``, ``--gamma``, ``--no-sampling``, ...) come from the keyword
arguments of its constructor (:func:`option_specs`), with help taken from the "Args:" section of
its docstring. Adding an attack is one module with one class, and one line here.
"""

from __future__ import annotations

import inspect
import re
import typing
from dataclasses import dataclass
from typing import Any

from neuroattack.attacks.base import Attack
from neuroattack.attacks.bim import BIM
from neuroattack.attacks.boundary import SpikeBoundary
from neuroattack.attacks.cwl2 import CWL2
from neuroattack.attacks.fgsm import FGSM
from neuroattack.attacks.g2s_rsf import G2SRSF
from neuroattack.attacks.pgd import PGD
from neuroattack.attacks.query_attack import QueryAttack
from neuroattack.attacks.random_flips import RandomFlips
from neuroattack.attacks.silence import Silence
from neuroattack.attacks.sparsefool import SparseFool
from neuroattack.attacks.square import SpikeSquare

ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls for cls in (G2SRSF, FGSM, PGD, BIM, CWL2, SparseFool, RandomFlips, Silence)
}

#: the baselines an attack is read against (no random baseline is run beside them)
BASELINES = frozenset({RandomFlips.name, Silence.name})

#: attacks that only query a backend executor (no gradient, no model): score- and decision-based
QUERY_ATTACKS: dict[str, type[QueryAttack]] = {cls.name: cls for cls in (SpikeSquare, SpikeBoundary)}

# the constructor arguments every attack of a family shares, or that name what it attacks
_SHARED = {
    Attack: {"self", "model", "grad"} | set(inspect.signature(Attack.__init__).parameters),
    QueryAttack: {"self", "executor", "seed", "budget"},
}


@dataclass(frozen=True)
class AttackOption:
    """One attack-specific keyword argument.

    Args:
        name: the keyword (``"eps"``); on the command line ``--eps`` (``--no-sampling`` for a
            switch whose default is on).
        kind: ``int``, ``float`` or ``bool``.
        default: the constructor's default (``None``: off / unbounded).
        help: the first line of its entry in the class docstring's "Args:".

    Example:
        >>> eps = option_specs(PGD)[0]
        >>> eps.name, eps.kind, eps.default == 8 / 255, eps.help
        ('eps', <class 'float'>, True, 'L-inf radius in pixel units, in (0, 1].')
    """

    name: str
    kind: type
    default: Any
    help: str


def _arg_help(cls: type) -> dict[str, str]:
    """``{argument: first line of its description}`` from the "Args:" sections of ``cls``'s MRO."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.getdoc(klass) or ""
        section = re.split(r"^\w[\w ]*:\s*$", doc.split("Args:", 1)[1], flags=re.M)[0] if "Args:" in doc else ""
        for names, text in re.findall(r"^    ([\w, ]+): (.+)$", section, flags=re.M):
            for name in names.split(", "):
                out[name.strip()] = text.strip()
    return out


def _kind(hint: Any, default: Any) -> type:
    if isinstance(default, bool):
        return bool
    for candidate in (bool, int, float):
        if hint is candidate or candidate in typing.get_args(hint):
            return candidate
    raise TypeError(f"attack option with type {hint!r}: not a command-line type")


def option_specs(cls: type) -> list[AttackOption]:
    """The keyword options of attack class ``cls`` beyond those every attack of its family shares, in order.

    Walks the constructors up the class hierarchy while they pass ``**kwargs`` on (``CWL2`` takes
    ``c`` and every option of ``G2SRSF``).

    Args:
        cls: an attack class (a subclass of :class:`~neuroattack.attacks.base.Attack` or of
            :class:`~neuroattack.attacks.query_attack.QueryAttack`).

    Returns:
        The :class:`AttackOption` of each keyword argument, subclass options first.

    Raises:
        TypeError: if an option's type is not ``int``, ``float`` or ``bool``.

    Example:
        >>> [o.name for o in option_specs(PGD)]
        ['eps', 'alpha', 'steps']
    """
    helps = _arg_help(cls)
    family = QueryAttack if issubclass(cls, QueryAttack) else Attack
    shared = _SHARED[family]
    out: list[AttackOption] = []
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is Attack or not issubclass(klass, (Attack, QueryAttack)):
            break
        if "__init__" not in vars(klass):
            continue
        init = vars(klass)["__init__"]
        hints = typing.get_type_hints(init)
        params = inspect.signature(init).parameters
        for name, param in params.items():
            if name in shared or name in seen or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            seen.add(name)
            out.append(AttackOption(name, _kind(hints.get(name), param.default), param.default, helps.get(name, "")))
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    return out


def build_attack(name: str, victim, grad: str = "stbp", **options: Any) -> Attack:
    """An attack by name (:data:`ATTACKS`) on ``victim`` with its options.

    Args:
        name: the attack (``g2s-rsf``, ``fgsm``, ``pgd``, ``bim``, ``cwl2``).
        victim: a :class:`~neuroattack.victims.Victim` (or a bare spiking model).
        grad: gradient estimator, by name or object.
        **options: the attack's keyword options (see :func:`option_specs`) and those of every attack.

    Returns:
        The attack object, ready for ``atk(x, y)``.

    Raises:
        ValueError: if ``name`` is not in :data:`ATTACKS` or an option is invalid.

    Example:
        >>> atk = build_attack("pgd", victim, "hart", eps=8 / 255, steps=7)  # doctest: +SKIP
    """
    if name not in ATTACKS:
        raise ValueError(f"attack must be one of {sorted(ATTACKS)}, got {name!r}")
    return ATTACKS[name](victim, grad=grad, **options)
