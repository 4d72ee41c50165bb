"""Atomic file writing and the cache directory: nothing half-written is ever left on disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch


def cache_dir() -> Path:
    """Directory for derived data (e.g. the nmnist-sim event cache).

    ``$NEUROATTACK_CACHE`` if set, else ``~/.cache/neuroattack``.
    """
    root = os.environ.get("NEUROATTACK_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "neuroattack"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    The temporary keeps ``path``'s suffix (or ``suffix``) so that libraries which
    dispatch on the file ending (numpy, h5py) behave as for the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


FAULT_ENV = "NEUROATTACK_FAULT_AT"


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL here if ``$NEUROATTACK_FAULT_AT`` names this point.

    How the tests kill a write at a moment they choose (a crash, power loss) and check that what is
    on disk is the old state or the new one, never a mix; without the variable it does nothing.
    """
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); ``False`` where the system
    cannot."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system or kernel cannot
        return False
    raise OSError(errno, os.strerror(errno), str(b))


@contextmanager
def atomic_dir(path: str | os.PathLike, replaces: frozenset[str] | set[str] = frozenset()) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; it becomes ``path`` only if the block succeeds.

    A folder of several files (a checkpoint, a streams folder) is one transaction: a process killed
    at any point leaves the old folder as it was or the new one complete, never new files beside
    old ones, nor a file of an earlier run. An existing ``path`` is swapped out in one step (Linux
    ``renameat2``; elsewhere two renames) and removed after.

    Args:
        path: the folder to (re)write.
        replaces: the file and folder names an existing ``path`` may hold: one holding anything
            else is refused (``ValueError``) rather than replaced, so a mistyped ``--out`` never
            deletes unrelated files.

    Example:
        >>> with atomic_dir(tmp / "ckpt") as d:  # doctest: +SKIP
        ...     (d / "model.pt").write_bytes(b"...")
    """
    path = Path(path)
    check_replaceable(path, replaces)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        yield tmp
        fault_point("before-folder-replace")
        if path.is_dir() and not path.is_symlink():
            check_replaceable(path, replaces)
            if not _exchange(tmp, path):
                old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old-"))
                os.replace(path, old / "x")
                os.replace(tmp, path)
                tmp = old
        else:
            os.replace(tmp, path)
            return
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)  # now the old folder


def check_replaceable(path: Path, replaces: frozenset[str] | set[str]) -> None:
    """Raise ``ValueError`` if ``path`` exists and is not a folder holding only names in ``replaces``."""
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir() or path.is_symlink():
        raise ValueError(f"output {path} exists and is not a folder")
    other = sorted(p.name for p in path.iterdir() if p.name not in replaces)
    if other:
        shown = ", ".join(other[:3]) + (", ..." if len(other) > 3 else "")
        raise ValueError(
            f"output {path} is a folder holding other files ({shown}); it would be replaced whole: "
            "choose a new or empty folder"
        )


def check_writable(path: str | os.PathLike) -> None:
    """Raise ``ValueError`` (one line naming ``path``) unless ``path`` can be created or replaced:
    its nearest existing parent must be a folder this process may write in.

    Example:
        >>> check_writable("/proc/no/such/file.json")  # doctest: +SKIP
        ValueError: output /proc/no/such/file.json: its folder /proc is not writable
    """
    path = Path(path)
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        if parent.is_symlink():  # a dangling link
            raise ValueError(f"output {path}: {parent} is a broken link")
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"output {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"output {path}: its folder {parent} is not writable")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file in the error when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: malformed JSON ({err})") from err
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text file ({err})") from None


def write_npz(path: str | os.PathLike, level: int = 1, **arrays: np.ndarray) -> None:
    """Write ``arrays`` as a deflate-compressed ``.npz`` (what ``np.load`` reads), atomically.

    ``np.savez_compressed`` always deflates at level 6; on event data level 1 writes 3-4x faster
    for files about 3 % larger (a 1,000-sample nmnist-sim chunk: 0.39 s and 16.1 MB against 1.49 s
    and 15.6 MB), which matters where a cache is filled on first use.

    Args:
        path: the file to write (replaced only once it is complete).
        level: zlib's compression level, 0 (stored) to 9.
        **arrays: name -> array (strings become 0-d unicode arrays, as with ``np.savez``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_npz(Path(d) / "a.npz", x=np.arange(3), note="hi")
        ...     with np.load(Path(d) / "a.npz") as f:
        ...         f["x"].tolist(), str(f["note"])
        ([0, 1, 2], 'hi')
    """
    import zipfile

    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
            for name, value in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor]) -> None:
    """``torch.save`` a flat dict of tensors atomically (loadable with ``weights_only=True``)."""
    with atomic_path(path) as tmp:
        torch.save(tensors, tmp)


def load_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a dict of tensors without unpickling arbitrary objects.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty, truncated, not a torch file, or not a dict of named tensors
            (one line naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises EOFError, RuntimeError, UnpicklingError, ... for a bad file
        size = path.stat().st_size
        what = "empty" if size == 0 else f"{size} bytes, {type(err).__name__}"
        raise ValueError(
            f"{path}: not a readable tensor file ({what}: truncated, corrupt or not torch.save'd)"
        ) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{path}: expected a dict of named tensors, got {type(state).__name__}")
    return state


def check_finite(tensors: dict[str, torch.Tensor], where: str) -> None:
    """Raise ``ValueError`` naming the first non-finite value: ``where: name[i, j] = nan``.

    Example:
        >>> check_finite({"w": torch.tensor([[1.0, float("inf")]])}, "model.pt")
        Traceback (most recent call last):
        ValueError: model.pt: w[0, 1] = inf is not finite
    """
    for name, t in tensors.items():
        if t.is_floating_point() or t.is_complex():
            bad = (~torch.isfinite(t)).nonzero()
            if len(bad):
                idx = tuple(int(i) for i in bad[0])
                raise ValueError(f"{where}: {name}[{', '.join(map(str, idx))}] = {t[idx].item()} is not finite")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def digest_files(paths: list[Path], what: str, names: bool = True) -> str:
    """SHA-256 (hex, 16 characters) over the names (with ``names``: a checkpoint's fixed
    ``config.json`` and ``model.pt``) and bytes of ``paths``, in the order given; never over a
    folder's name.

    What results are keyed by (checkpoints, NIR graphs); ``what`` names the thing for the error
    when a file is missing.

    Example:
        >>> digest_files([Path("runs/models/mnist/model.pt")], "checkpoint runs/models/mnist")  # doctest: +SKIP
        '3f2a...'
    """
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{what}: no {path.name}")
        if names:
            digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
