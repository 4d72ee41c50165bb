import signal
import threading

import pytest

from backends.signals import handling


def test_handlers_come_back_after_an_error():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RuntimeError, match="inside"):
        with handling((signal.SIGTERM, signal.SIGUSR2), lambda signum, frame: None) as installed:
            assert installed and signal.getsignal(signal.SIGTERM) is not before
            raise RuntimeError("inside")
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL


def test_outside_the_main_thread_nothing_changes():
    seen = []

    def work():
        with handling((signal.SIGUSR2,), lambda signum, frame: None) as installed:
            seen.append((installed, signal.getsignal(signal.SIGUSR2)))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [(False, signal.SIG_DFL)]
