"""Hardware profiles: the integer formats a backend quantizes to, read from TOML (``hw_configs/``).

A profile is either ``fixed_point = false`` (float execution) or Loihi-style fixed point, whose
constants are those of lava-nc's bit-accurate LIF and Dense models (see ``hw_configs/loihi2.toml``
for the source lines). Only the weight format and the quantizer's headroom may vary; the neuron
constants must equal Lava's, because Lava cannot run anything else. Unknown keys and out-of-range
values are errors that name the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
_TOP = {"name", "fixed_point"} | set(_SECTIONS)


@dataclass(frozen=True)
class HardwareProfile:
    """Integer formats of one (emulated) chip; ``fixed_point=False`` means float execution."""

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
        return 1 << self.decay_bits

    @property
    def max_state(self) -> int:
        return 1 << (self.state_bits - 1)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "profile") -> "HardwareProfile":
        unknown = set(data) - _TOP
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {sorted(unknown)}; allowed {sorted(_TOP)}")
        if "name" not in data or not isinstance(data["name"], str):
            raise ValueError(f"{source}: 'name' (a string) is required")
        if not isinstance(data.get("fixed_point"), bool):
            raise ValueError(f"{source}: 'fixed_point' must be true or false")
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
            values.update(sub)
        profile = cls(**values)
        profile.validate(source)
        return profile

    def validate(self, source: str = "profile") -> None:
        def need(cond: bool, key: str, value: Any, allowed: str) -> None:
            if not cond:
                raise ValueError(f"{source}: {key} = {value!r} is out of range ({allowed})")

        need(isinstance(self.mantissa_bits, int) and 1 <= self.mantissa_bits <= 8, "weights.mantissa_bits",
             self.mantissa_bits, "an integer 1..8: Lava's num_weight_bits")
        need(isinstance(self.exp_min, int) and -8 <= self.exp_min <= 0, "weights.exp_min", self.exp_min, "-8..0")
        need(isinstance(self.exp_max, int) and 0 <= self.exp_max <= 7, "weights.exp_max", self.exp_max, "0..7")
        need(isinstance(self.headroom, (int, float)) and 1.0 <= self.headroom <= 1e4, "quantize.headroom",
             self.headroom, "1..1e4")
        for key, lava_value in LAVA_NEURON.items():
            value = getattr(self, key)
            need(value == lava_value, f"neuron.{key}", value, f"must be {lava_value}, the value of Lava's bit-accurate LIF")


def load_profile(path: str | os.PathLike | HardwareProfile) -> HardwareProfile:
    """Read and validate a TOML hardware profile (a :class:`HardwareProfile` passes through)."""
    if isinstance(path, HardwareProfile):
        return path
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"hardware profile {path}: no such file")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"hardware profile {path}: malformed TOML ({err})") from err
    return HardwareProfile.from_dict(data, source=f"hardware profile {path}")


FLOAT = HardwareProfile(name="float", fixed_point=False)
