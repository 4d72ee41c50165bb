"""Network spec strings as in Liang et al. Table V, e.g. ``"Input-128C3-AP2-1024FC-10FC"``.

Tokens, separated by ``-``:

- ``<n>C<k>`` convolution, ``n`` output channels, ``k x k`` kernel, stride 1, "same" padding
  ``k // 2``; optional suffixes ``s<stride>`` and ``p<padding>`` (``32C3s2p0``).
- ``AP<k>`` average pooling ``k x k`` with stride ``k`` (on the spikes of the layer before).
- ``<n>FC`` fully connected layer with ``n`` neurons (the input is flattened first).
- ``Input`` may open the string and is ignored.

Every C and FC layer is followed by a spiking layer; the last token must be FC (the classes).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_CONV = re.compile(r"^(\d+)C(\d+)(?:s(\d+))?(?:p(\d+))?$")
_POOL = re.compile(r"^AP(\d+)$")
_FC = re.compile(r"^(\d+)FC$")


@dataclass(frozen=True)
class Conv:
    channels: int
    kernel: int
    stride: int
    padding: int


@dataclass(frozen=True)
class Pool:
    kernel: int


@dataclass(frozen=True)
class FC:
    features: int


Layer = Conv | Pool | FC


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: the original string and its layers."""

    text: str
    layers: tuple[Layer, ...]

    @property
    def num_outputs(self) -> int:
        return self.layers[-1].features  # type: ignore[union-attr]

    def shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Output shape (without batch/time) after each layer, checking that every layer fits."""
        shape = tuple(input_shape)
        if len(shape) not in (1, 3):
            raise ValueError(f"model input shape must be (C, H, W) or (N,), got {shape}")
        out = []
        for i, layer in enumerate(self.layers):
            where = f"model spec {self.text!r}: layer {i + 1} ({_token(layer)})"
            if isinstance(layer, Conv):
                if len(shape) != 3:
                    raise ValueError(f"{where}: convolution needs a (C, H, W) input, got {shape}")
                c, h, w = shape
                ho = (h + 2 * layer.padding - layer.kernel) // layer.stride + 1
                wo = (w + 2 * layer.padding - layer.kernel) // layer.stride + 1
                if ho < 1 or wo < 1:
                    raise ValueError(f"{where}: kernel does not fit the {h}x{w} input")
                shape = (layer.channels, ho, wo)
            elif isinstance(layer, Pool):
                c, h, w = shape
                if h < layer.kernel or w < layer.kernel:
                    raise ValueError(f"{where}: pooling {layer.kernel} larger than the {h}x{w} input")
                shape = (c, h // layer.kernel, w // layer.kernel)
            else:
                shape = (layer.features,)
            out.append(shape)
        return out


def check_model_memory(spec: ModelSpec, input_shape: tuple[int, ...]) -> None:
    """Refuse a model whose weights (float32) cannot fit in memory, naming its largest layer.

    Example:
        >>> check_model_memory(parse_spec("99999999999FC-10FC"), (1, 8, 8))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: model spec '99999999999FC-10FC': layer 1 (99999999999FC) has 6399999999936 weights...
    """
    from neuroattack.memory import check_memory

    shapes = [tuple(input_shape), *spec.shapes(tuple(input_shape))]
    counts = []
    for i, layer in enumerate(spec.layers):
        n_in = math.prod(shapes[i])
        if isinstance(layer, Conv):
            counts.append(layer.channels * shapes[i][0] * layer.kernel**2)
        elif isinstance(layer, FC):
            counts.append(n_in * layer.features)
        else:
            counts.append(0)
    big = max(range(len(counts)), key=counts.__getitem__)
    what = (
        f"model spec {spec.text!r}: layer {big + 1} ({_token(spec.layers[big])}) has {counts[big]} weights; the model"
    )
    check_memory(4 * sum(counts), what)


def _token(layer: Layer) -> str:
    if isinstance(layer, Conv):
        return f"{layer.channels}C{layer.kernel}s{layer.stride}p{layer.padding}"
    if isinstance(layer, Pool):
        return f"AP{layer.kernel}"
    return f"{layer.features}FC"


def parse_spec(text: str) -> ModelSpec:
    """Parse a spec string; a malformed one raises ``ValueError`` naming the token and why."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("model spec is empty; expected e.g. '128C3-AP2-1024FC-10FC'")
    tokens = [t.strip() for t in text.strip().split("-")]
    if tokens[0].lower() == "input":
        tokens = tokens[1:]
    if not tokens:
        raise ValueError(f"model spec {text!r} has no layers")
    layers: list[Layer] = []
    seen_fc = False
    for pos, tok in enumerate(tokens, start=1):
        where = f"model spec {text!r}: token {pos} {tok!r}"
        if m := _CONV.match(tok):
            ch, k = int(m[1]), int(m[2])
            stride = int(m[3]) if m[3] else 1
            pad = int(m[4]) if m[4] is not None else k // 2
            if ch < 1 or k < 1 or stride < 1:
                raise ValueError(f"{where}: channels, kernel and stride must be >= 1")
            if seen_fc:
                raise ValueError(f"{where}: a convolution cannot follow a fully connected layer")
            layers.append(Conv(ch, k, stride, pad))
        elif m := _POOL.match(tok):
            k = int(m[1])
            if k < 1:
                raise ValueError(f"{where}: pooling size must be >= 1")
            if not layers or not isinstance(layers[-1], Conv):
                raise ValueError(f"{where}: average pooling must follow a convolution layer")
            layers.append(Pool(k))
        elif m := _FC.match(tok):
            n = int(m[1])
            if n < 1:
                raise ValueError(f"{where}: a fully connected layer needs >= 1 neuron")
            seen_fc = True
            layers.append(FC(n))
        else:
            raise ValueError(
                f"{where} is not one of <n>C<k>[s<stride>][p<pad>], AP<k>, <n>FC (e.g. '128C3-AP2-1024FC-10FC')"
            )
    if not isinstance(layers[-1], FC):
        raise ValueError(f"model spec {text!r}: the last layer must be fully connected (<n>FC)")
    return ModelSpec(text=text, layers=tuple(layers))
