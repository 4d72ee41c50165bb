"""Hardware profiles: the integer formats a backend quantizes to, addressed by name or by path.

The bundled profiles live in ``hw_configs/`` as package data and are addressed by their
name, which is their file name without ``.toml``:

==============  =============================================================================
name            what it is
==============  =============================================================================
``float``       no quantization: Lava's ``floating_pt`` models, or the reference backend
``loihi2``      Loihi-2-style fixed point as lava-nc 0.10.0's bit-accurate models run it
``loihi2-w6``   ``loihi2`` with 6-bit weight mantissas (Lava's ``num_weight_bits = 6``)
``loihi2-w4``   ``loihi2`` with 4-bit weight mantissas
==============  =============================================================================

A profile file is TOML: ``fixed_point`` (bool), optional tables ``[weights]`` (``mantissa_bits``,
``exp_min``, ``exp_max``), ``[neuron]`` (Lava's LIF constants) and ``[quantize]`` (``headroom``),
and optionally ``extends = "NAME"`` (a bundled profile, or a path relative to the file): a variant
states only what differs from its base. ``name`` may be given; it defaults to the file name.

Only the weight format and the quantizer's headroom may vary; the neuron constants must equal
Lava's, because Lava cannot run anything else. Unknown keys and out-of-range values are errors
that name the file, the key and the value.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Lava's bit-accurate LIF constants (proc/lif/models.py, lava-nc 0.10.0)
LAVA_NEURON = {
    "decay_bits": 12,
    "state_bits": 24,
    "threshold_bits": 17,
    "bias_mant_bits": 13,
    "bias_exp_max": 7,
    "shift": 6,
}

_SECTIONS = {
    "weights": {"mantissa_bits", "exp_min", "exp_max"},
    "neuron": set(LAVA_NEURON),
    "quantize": {"headroom"},
}
_TOP = {"name", "fixed_point", "extends"} | set(_SECTIONS)
_INTEGER_KEYS = {"mantissa_bits", "exp_min", "exp_max"} | set(LAVA_NEURON)


@dataclass(frozen=True)
class HardwareProfile:
    """Integer formats of one (emulated) chip; ``fixed_point=False`` means float execution.

    Args:
        name: the profile's one name (bundled: its file name without ``.toml``).
        fixed_point: Loihi-style integer arithmetic (``True``) or float (``False``).
        mantissa_bits: weight mantissa bits, Lava's ``num_weight_bits`` (1..8).
        exp_min, exp_max: range of the per-layer ``weight_exp``.
        headroom: the quantizer keeps the threshold this many times below the 24-bit state limit.
        decay_bits, state_bits, threshold_bits, bias_mant_bits, bias_exp_max, shift: Lava's LIF
            register widths (fixed; validated against :data:`LAVA_NEURON`).

    Example:
        >>> load_profile("loihi2-w4").mantissa_bits
        4
    """

    name: str
    fixed_point: bool
    mantissa_bits: int = 8
    exp_min: int = -8
    exp_max: int = 7
    headroom: float = 8.0
    decay_bits: int = 12
    state_bits: int = 24
    threshold_bits: int = 17
    bias_mant_bits: int = 13
    bias_exp_max: int = 7
    shift: int = 6

    @property
    def decay_unity(self) -> int:
        """``2**decay_bits``: the decay register's value of 1.

        Example:
            >>> FLOAT.decay_unity
            4096
        """
        return 1 << self.decay_bits

    @property
    def max_state(self) -> int:
        """``2**(state_bits - 1)``: the bound of the signed current and voltage registers.

        Example:
            >>> FLOAT.max_state
            8388608
        """
        return 1 << (self.state_bits - 1)

    def digest(self) -> str:
        """SHA-256 (hex, 16 characters) of the resolved settings, the name excluded.

        Two files that say the same thing have the same digest.

        Returns:
            the first 16 hex digits of the SHA-256 of the settings as sorted JSON.

        Example:
            >>> load_profile("loihi2").digest() == HardwareProfile("mine", fixed_point=True).digest()
            True
        """
        settings = {k: v for k, v in asdict(self).items() if k != "name"}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]

    def to_toml(self) -> str:
        """The profile as a TOML file that stands alone (no ``extends``): what :func:`load_profile`
        reads back to an equal profile, e.g. on a machine that has not the file it came from.

        Example:
            >>> text = load_profile("loihi2-w4").to_toml()
            >>> "extends" in text, "mantissa_bits = 4" in text
            (False, True)
        """
        lines = [f"name = {json.dumps(self.name)}", f"fixed_point = {str(self.fixed_point).lower()}"]
        if self.fixed_point:
            values = asdict(self)
            for section, keys in _SECTIONS.items():
                lines.append(f"[{section}]")
                lines += [f"{key} = {values[key]!r}" for key in sorted(keys)]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "profile") -> HardwareProfile:
        """A validated profile from a parsed TOML table (``extends`` already resolved).

        Args:
            data: the table: ``name`` and ``fixed_point`` (required), optional sub-tables
                ``weights``, ``neuron`` and ``quantize`` (see the module docstring).
            source: what to name in error messages (e.g. ``"hardware profile path/to/file.toml"``).

        Returns:
            the validated :class:`HardwareProfile`.

        Raises:
            ValueError: an unknown key, a missing or ill-typed ``name``/``fixed_point``, a section
                that is not a table or given for a float profile, a non-integer where an integer is
                needed, or a value out of range (:meth:`validate`).

        Example:
            >>> data = {"name": "w5", "fixed_point": True, "weights": {"mantissa_bits": 5}}
            >>> HardwareProfile.from_dict(data).mantissa_bits
            5
        """
        unknown = set(data) - _TOP
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {sorted(unknown)}; allowed {sorted(_TOP)}")
        if "name" not in data or not isinstance(data["name"], str) or not data["name"]:
            raise ValueError(f"{source}: 'name' (a non-empty string) is required")
        if not isinstance(data.get("fixed_point"), bool):
            raise ValueError(f"{source}: 'fixed_point' must be true or false, got {data.get('fixed_point')!r}")
        values: dict[str, Any] = {"name": data["name"], "fixed_point": data["fixed_point"]}
        for section, keys in _SECTIONS.items():
            sub = data.get(section, {})
            if not isinstance(sub, dict):
                raise ValueError(f"{source}: [{section}] must be a table")
            bad = set(sub) - keys
            if bad:
                raise ValueError(f"{source}: unknown key(s) {sorted(bad)} in [{section}]; allowed {sorted(keys)}")
            if sub and not data["fixed_point"]:
                raise ValueError(f"{source}: [{section}] given but fixed_point = false")
            for key, value in sub.items():
                if key in _INTEGER_KEYS and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError(f"{source}: {section}.{key} = {value!r} must be an integer")
                if key == "headroom" and (isinstance(value, bool) or not isinstance(value, (int, float))):
                    raise ValueError(f"{source}: {section}.{key} = {value!r} must be a number")
            values.update(sub)
        profile = cls(**values)
        profile.validate(source)
        return profile

    def validate(self, source: str = "profile") -> None:
        """Raise ``ValueError`` naming ``source``, the key and the value of any setting out of range.

        Args:
            source: what to name in the message (a file, or ``"profile"``).

        Raises:
            ValueError: ``mantissa_bits`` outside 1..8, ``exp_min`` outside -8..0, ``exp_max`` outside
                0..7, ``headroom`` outside 1..1e4, or a neuron constant other than Lava's
                (:data:`LAVA_NEURON`).

        Example:
            >>> HardwareProfile("w9", fixed_point=True, mantissa_bits=9).validate("w9.toml")
            Traceback (most recent call last):
                ...
            ValueError: w9.toml: weights.mantissa_bits = 9 is out of range (an integer 1..8: Lava's num_weight_bits)
        """

        def need(cond: bool, key: str, value: Any, allowed: str) -> None:
            """Raise the ``ValueError`` for ``key = value`` (``allowed``: the range) unless ``cond``."""
            if not cond:
                raise ValueError(f"{source}: {key} = {value!r} is out of range ({allowed})")

        def integer(value: Any) -> bool:
            """Whether ``value`` is an ``int`` and not a ``bool``."""
            return isinstance(value, int) and not isinstance(value, bool)

        need(
            integer(self.mantissa_bits) and 1 <= self.mantissa_bits <= 8,
            "weights.mantissa_bits",
            self.mantissa_bits,
            "an integer 1..8: Lava's num_weight_bits",
        )
        need(integer(self.exp_min) and -8 <= self.exp_min <= 0, "weights.exp_min", self.exp_min, "-8..0")
        need(integer(self.exp_max) and 0 <= self.exp_max <= 7, "weights.exp_max", self.exp_max, "0..7")
        need(
            isinstance(self.headroom, (int, float))
            and not isinstance(self.headroom, bool)
            and 1.0 <= self.headroom <= 1e4,
            "quantize.headroom",
            self.headroom,
            "1..1e4",
        )
        for key, lava_value in LAVA_NEURON.items():
            value = getattr(self, key)
            need(
                integer(value) and value == lava_value,
                f"neuron.{key}",
                value,
                f"must be {lava_value}, the value of Lava's bit-accurate LIF",
            )


def bundled_profiles() -> list[str]:
    """Names of the profiles shipped in ``hw_configs/`` (``["float", "loihi2", ...]``).

    Returns:
        the names (file names without ``.toml``), sorted.

    Example:
        >>> "loihi2" in bundled_profiles()
        True
    """
    folder = resources.files("hw_configs")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _bundled_path(name: str) -> Path:
    return Path(str(resources.files("hw_configs") / f"{name}.toml"))


def _read_table(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The TOML table of ``path`` with its ``extends`` chain merged in (the file's own keys win)."""
    source = f"hardware profile {path}"
    if path in seen:
        raise ValueError(f"{source}: 'extends' forms a cycle: {' -> '.join(map(str, seen + (path,)))}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{source}: malformed TOML ({err})") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{source}: not a text file ({err})") from err
    data.setdefault("name", path.stem)
    base_ref = data.pop("extends", None)
    if base_ref is None:
        return data
    if not isinstance(base_ref, str) or not base_ref:
        raise ValueError(f"{source}: extends = {base_ref!r} must name a profile")
    try:
        base_path = _locate(base_ref, relative_to=path.parent)
    except FileNotFoundError as err:
        raise ValueError(f"{source}: extends = {base_ref!r}, which is {str(err).split(': ', 1)[-1]}") from None
    base = _read_table(base_path, seen + (path,))
    merged = {**base, **{k: v for k, v in data.items() if k not in _SECTIONS}}
    for section in _SECTIONS:
        if section in base or section in data:
            own = data.get(section, {})
            if not isinstance(own, dict):
                raise ValueError(f"{source}: [{section}] must be a table")
            merged[section] = {**base.get(section, {}), **own}
    return merged


def _locate(ref: str | os.PathLike, relative_to: Path | None = None) -> Path:
    """The file of a profile reference: a bundled name, or a path (relative to ``relative_to``)."""
    text = str(ref)
    candidates = [Path(text)]
    if relative_to is not None and not Path(text).is_absolute():
        candidates.insert(0, relative_to / text)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if text in bundled_profiles():
        return _bundled_path(text)
    raise FileNotFoundError(
        f"hardware profile {text}: no such file, nor a bundled profile (bundled: {', '.join(bundled_profiles())})"
    )


def load_profile(profile: str | os.PathLike | HardwareProfile) -> HardwareProfile:
    """A validated hardware profile from a bundled name (``"loihi2"``), a TOML path, or itself.

    Args:
        profile: a :class:`HardwareProfile` (returned as it is), the name of a bundled profile
            (:func:`bundled_profiles`), or the path of a TOML file (see the module docstring).

    Returns:
        the validated :class:`HardwareProfile`.

    Raises:
        FileNotFoundError: neither a file nor a bundled profile's name (also for ``extends``).
        ValueError: malformed TOML, an ``extends`` cycle, an unknown key or an out-of-range value,
            naming the file, the key and the value.

    Example:
        >>> load_profile("loihi2").fixed_point
        True
    """
    if isinstance(profile, HardwareProfile):
        return profile
    path = _locate(profile)
    return HardwareProfile.from_dict(_read_table(path), source=f"hardware profile {path}")


FLOAT = HardwareProfile(name="float", fixed_point=False)
