"""Norse, imported without a warning its users cannot act on.

norse 1.1 decorates some of its functions with ``torch.jit.script`` when it is imported, and torch
2.14 deprecates that decorator with a ``FutureWarning`` on every call: every command would print
it. The modules that use Norse import this one first, so the first import of ``norse.torch`` in a
process runs here, with that one warning (by its text) ignored for the duration of the import;
no filter outlives it, and nothing of Norse is changed.

Example:
    >>> import neuroattack.quiet_norse
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
    import norse.torch  # noqa: F401
