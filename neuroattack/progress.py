"""Progress bars that show on a terminal only: a log or a pipe gets no carriage returns.

Example:
    >>> [i for i in progress_bar(range(3), True, desc="demo")]
    [0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm


def progress_bar(iterable: Iterable | None = None, show: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)``, drawn when ``show`` is true and the output is a terminal.

    Args:
        iterable: what to iterate (``None``: a manual bar, ``bar.update(n)``).
        show: whether the caller wants a bar at all (a ``progress`` argument).
        **kwargs: tqdm's own (``desc``, ``total``, ``leave``, ``unit``).

    Returns:
        the tqdm object (iterate it, or update it by hand).
    """
    return tqdm(iterable, disable=None if show else True, **kwargs)
