"""Signal handlers installed for the duration of a piece of work, and the previous ones put back."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def handling(signals: tuple[int, ...], handler: Callable) -> Iterator[bool]:
    """``handler`` handles ``signals`` for the duration of the block; the previous handlers come back
    after it, also when it raises. Only the main thread can handle signals: elsewhere nothing changes.

    Args:
        signals: the signal numbers (``signal.SIGINT``, ``signal.SIGTERM``, ...).
        handler: ``handler(signum, frame)``, as ``signal.signal`` takes it.

    Yields:
        whether the handler is in place (``False`` outside the main thread).

    Example:
        >>> seen = []
        >>> with handling((signal.SIGUSR1,), lambda signum, frame: seen.append(signum)) as installed:
        ...     signal.raise_signal(signal.SIGUSR1)
        >>> installed, seen == [signal.SIGUSR1], signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
        (True, True, True)
    """
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield True
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
