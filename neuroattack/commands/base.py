"""What a command is, and the argument types and flags several commands share."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Command:
    """One ``neuroattack`` command.

    Attributes:
        name: as typed (``"attack"``; ``"bench backends"`` for a sub-command of a group).
        help: one line for ``neuroattack --help``.
        add_arguments: adds the command's flags to its parser.
        run: the handler; returns the exit status. Raising ``ValueError`` or
            ``FileNotFoundError`` prints one ``neuroattack NAME: error: ...`` line (exit 2).
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def fraction(text: str) -> float:
    """Parse ``0.03`` or ``8/255`` (an ``argparse`` type)."""
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError) as err:
        raise argparse.ArgumentTypeError(f"not a number or fraction: {text!r}") from err


def positive_int(text: str) -> int:
    """An integer >= 1 (an ``argparse`` type): ``--epochs 0`` is an error, not the default."""
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def rate(value: float | None, interval: list[float] | None = None) -> str:
    """A rate for the one-line summaries: 4 decimals, ``n/a`` where it is undefined, and its 95 %
    interval ``[low, high]`` (3 decimals) where one is given.

    Example:
        >>> rate(0.95771, [0.9361, 0.9724]), rate(None)
        ('0.9577 [0.936, 0.972]', 'n/a')
    """
    text = "n/a" if value is None else f"{value:.4f}"
    return text if interval is None else f"{text} [{interval[0]:.3f}, {interval[1]:.3f}]"


def events_text(summary) -> str:
    """What an attack changed, in events, for the one-line summaries: the budget, the median and
    mean events to fool (added / removed), the no-decision rate and the random baseline.

    Example:
        >>> from neuroattack.attacks.attack_summary import AttackSummary
        >>> s = AttackSummary(10, 8, 8, budget=50, median_l0=12.0, mean_l0=14.5, mean_events_added=13.0,
        ...                   mean_events_removed=1.5, no_decision_rate=0.0, random_asr=0.125,
        ...                   random_asr_interval_95=[0.02, 0.47], beats_random=True)
        >>> print(events_text(s).replace("; ", ";\\n"))
        budget 50;
        events to fool: median 12, mean 14.5 (+13.0 -1.5);
        no decision 0.0000;
        random flips at the same events: ASR 0.1250 [0.020, 0.470] (beaten)
    """
    s = summary
    budget = "unbounded" if s.budget is None else str(s.budget)
    if s.median_l0 is None:
        fool = "events to fool: none fooled"
    else:
        fool = (
            f"events to fool: median {s.median_l0:.0f}, mean {s.mean_l0:.1f} "
            f"(+{s.mean_events_added:.1f} -{s.mean_events_removed:.1f})"
        )
    text = f"budget {budget}; {fool}; no decision {rate(s.no_decision_rate)}"
    if s.random_asr is not None:
        verdict = "beaten" if s.beats_random else "NOT BEATEN: no better than chance at these events"
        text += f"; random flips at the same events: ASR {rate(s.random_asr, s.random_asr_interval_95)} ({verdict})"
    return text


_GRAPH_FLAGS = ("dataset", "encoding", "timesteps", "dt", "framework", "reset", "readout")


def add_network(p: argparse.ArgumentParser, graph_help: str, data: bool = True) -> None:
    """``--checkpoint DIR`` or ``--graph FILE.nir``; for a graph ``--dt``, ``--framework`` and ``--reset``, and with
    ``data`` also ``--dataset``, ``--encoding`` and ``--timesteps`` (a checkpoint's config says them)."""
    from backends.timestep import FRAMEWORK_DT
    from neuroattack.data.datasets import DATASETS
    from neuroattack.encoding import SCHEMES

    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="a checkpoint directory (neuroattack train)")
    source.add_argument("--graph", type=Path, help=graph_help)
    if data:
        add_data_root(p)
        p.add_argument("--dataset", choices=sorted(DATASETS), default=None, help="with --graph: the data (required)")
        p.add_argument("--encoding", choices=SCHEMES, default=None, help="with --graph: how samples reach it (events)")
        p.add_argument("--timesteps", type=positive_int, default=None, help="with --graph: steps per sample (8)")
    p.add_argument("--dt", type=float, default=None, help="with --graph: seconds per step it was trained with")
    p.add_argument("--framework", choices=sorted(FRAMEWORK_DT), default=None, help="with --graph: its exporter")
    add_reset(p)
    add_readout(p)


def add_readout(p: argparse.ArgumentParser) -> None:
    """``--readout max|last|mean``: how a non-spiking (LI/CubaLI) output's membrane becomes scores."""
    from backends.readout import READOUT_RULES

    p.add_argument(
        "--readout",
        choices=READOUT_RULES,
        default=None,
        help="with --graph whose output is an LI/CubaLI readout: score each class by its membrane's max over "
        "time (default), last value or mean",
    )


def add_reset(p: argparse.ArgumentParser) -> None:
    """``--reset zero|subtract``: what a spike does to a NIR graph's membrane (NIR cannot say it)."""
    from backends.reset import RESETS

    p.add_argument(
        "--reset",
        choices=RESETS,
        default=None,
        help="with --graph: a spike sets v to 0 or subtracts the threshold (default: --framework's own "
        "default, stated in a warning; zero otherwise)",
    )


def network_config(args: argparse.Namespace) -> dict | None:
    """What ``--graph`` says in place of a checkpoint's config: ``{"dataset", "timesteps", "encoding"}``
    (defaults 8 steps, events; empty without data flags); ``None`` for ``--checkpoint``, where a
    graph-only flag is an error."""
    from neuroattack.data.datasets import DATASETS

    flags = [k for k in _GRAPH_FLAGS if hasattr(args, k)]
    if args.checkpoint is not None:
        given = [f"--{k}" for k in flags if getattr(args, k) is not None]
        if given:
            raise ValueError(f"{', '.join(given)} apply to --graph only (a checkpoint says them itself)")
        return None
    if not hasattr(args, "dataset"):
        return {}
    if args.dataset is None:
        raise ValueError("--graph needs --dataset: the data to use")
    from neuroattack.memory import check_input_memory

    default_steps = DATASETS[args.dataset].default_timesteps or 8
    timesteps = args.timesteps or default_steps
    check_input_memory(timesteps, getattr(args, "batch_size", None) or 1, DATASETS[args.dataset].input_shape)
    return {
        "dataset": args.dataset,
        "timesteps": timesteps,
        "encoding": args.encoding or "events",
    }


def add_split(p: argparse.ArgumentParser) -> None:
    """``--split train|val|test`` (default test): a data folder that holds only one split (e.g. the
    training recordings) is enough for it."""
    p.add_argument(
        "--split",
        choices=["train", "val", "test"],
        default="test",
        help="the dataset split to read (default test; a figure on train or val is on the model's training data)",
    )


def add_profile(p: argparse.ArgumentParser, default: str | None, what: str = "hardware profile") -> None:
    """``--profile``: a bundled profile's name or a TOML path."""
    from backends.profile import bundled_profiles

    p.add_argument(
        "--profile",
        default=default,
        help=f"{what}: a bundled name ({', '.join(bundled_profiles())}) or a TOML path (default {default or 'float'})",
    )


def add_data_root(p: argparse.ArgumentParser, download: bool = False) -> None:
    """``--data-root DIR`` (else ``$NEUROATTACK_DATA``) for the real datasets; with ``download``
    also ``--download`` (let tonic fetch a missing event dataset; never by default)."""
    p.add_argument("--data-root", type=Path, default=None, help="folder of the real datasets (or $NEUROATTACK_DATA)")
    if download:
        p.add_argument("--download", action="store_true", help="let tonic download a missing event dataset")


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device cpu|cuda|auto`` (default auto: CUDA where torch sees it; :mod:`neuroattack.device`)."""
    p.add_argument(
        "--device",
        default="auto",
        help="where models, attacks and the emulator compute: cpu, cuda, cuda:N or auto (CUDA if available)",
    )


def add_force(p: argparse.ArgumentParser) -> None:
    """``--force``: allow an output path that is one of the command's input files."""
    p.add_argument("--force", action="store_true", help="write even where an output path is one of the input files")


def refuse_overwrite(outputs, inputs, force: bool = False, folders: dict | None = None) -> None:
    """Check every output of a command before it does any work; raise ``ValueError`` naming the path.

    Refused: two outputs at one path; an output file that is an existing folder; an output folder
    that exists holding files it would not write (it is replaced whole); an output whose nearest
    existing parent is a file or a folder this process cannot write; and, unless ``force``, an
    output that is one of ``inputs`` (the same path, or an existing file inside an input folder)
    or an output folder that holds an input.

    Args:
        outputs: the files a command will write (paths).
        inputs: the files and folders it reads (``None`` entries are skipped).
        force: allow replacing an input (``--force``).
        folders: the folders it writes as one transaction (:func:`neuroattack.fileio.atomic_dir`),
            each with the names an existing one may hold.

    Example:
        >>> refuse_overwrite([Path("ckpt/model.pt")], [Path("ckpt")])  # doctest: +SKIP
        ValueError: output ckpt/model.pt is one of the input files; choose another path or pass --force
    """
    from neuroattack.fileio import check_replaceable, check_writable

    files = [Path(o) for o in outputs]
    folders = {Path(k): v for k, v in (folders or {}).items()}
    seen: dict[Path, Path] = {}
    for out in [*files, *folders]:
        resolved = out.resolve()
        if resolved in seen:
            raise ValueError(f"output {out} is given twice (also as {seen[resolved]}); choose another path")
        seen[resolved] = out
    for out in files:
        if out.is_dir():
            raise ValueError(f"output {out} is a folder; give a file path")
        check_writable(out)
    for folder in folders:
        check_writable(folder)
    if not force:
        _refuse_inputs(files, folders, inputs)
    for folder, names in folders.items():
        check_replaceable(folder, names)


def _refuse_inputs(files: list[Path], folders, inputs) -> None:
    ins = [(Path(i), Path(i).resolve()) for i in inputs if i is not None]
    for out in files:
        resolved = out.resolve()
        for _, res in ins:
            inside = res.is_dir() and resolved.is_relative_to(res) and resolved.exists()
            if resolved == res or inside:
                raise ValueError(f"output {out} is one of the input files; choose another path or pass --force")
    for folder in folders:
        resolved = folder.resolve()
        for inp, res in ins:
            if res == resolved or res.is_relative_to(resolved):
                raise ValueError(
                    f"output {folder} would be replaced whole, and it holds the input {inp}; "
                    "choose another path or pass --force"
                )
