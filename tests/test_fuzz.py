"""Fuzzing every reader of user input: malformed files and graphs give the project's own one-line
errors (ValueError, FileNotFoundError naming the file), never another exception or a traceback.

Targets: the event readers (N-MNIST ``.bin``, AEDAT 4, ``.npz``: each format its own target), NIR
graphs (``backends.lower``), hardware profiles (TOML), checkpoints (``model.pt`` + ``config.json``)
and attack streams (``streams.h5``); a sample of the same kinds of input, drawn by the same
strategies, goes through the command line in subprocesses.

Each target tries :data:`EXAMPLES_PER_TARGET` inputs (``NEUROATTACK_FUZZ_EXAMPLES``, e.g. 5000 for
a long run), the command line :data:`CLI_EXAMPLES` (``NEUROATTACK_FUZZ_CLI_EXAMPLES``); every test
checks that it tried as many as stated, and ``TRIED`` counts them (``pytest tests/test_fuzz.py -s``
prints the counts). The inputs differ from run to run: the seed is drawn anew (one per run, the
same in every pytest-xdist worker), printed with the counts and in every failure, and
``NEUROATTACK_FUZZ_SEED=<seed>`` replays a run.
"""

import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import backends
from neuroattack.attacks.streams import load_streams
from neuroattack.data.readers import read_aedat4, read_event_file, read_nmnist_file, read_npz_events
from neuroattack.models.checkpoint import load_checkpoint, save_checkpoint
from neuroattack.models.neurons import NeuronConfig
from neuroattack.models.snn import SNN

ROOT = Path(__file__).resolve().parents[1]
#: inputs per target (per event format) in ``make test``, as docs/reliability.md states it
STATED_EXAMPLES_PER_TARGET = 200
#: commands through the command line in ``make test``, as docs/reliability.md states it
STATED_CLI_EXAMPLES = 6
EXAMPLES_PER_TARGET = int(os.environ.get("NEUROATTACK_FUZZ_EXAMPLES", STATED_EXAMPLES_PER_TARGET))
CLI_EXAMPLES = int(os.environ.get("NEUROATTACK_FUZZ_CLI_EXAMPLES", STATED_CLI_EXAMPLES))


def _run_seed() -> int:
    """``$NEUROATTACK_FUZZ_SEED``, else one per pytest run (xdist's run id: every worker draws the
    same inputs), else a fresh one."""
    given_seed = os.environ.get("NEUROATTACK_FUZZ_SEED")
    if given_seed:
        return int(given_seed)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run:
        return int(hashlib.sha256(run.encode()).hexdigest()[:8], 16)
    return secrets.randbits(32)


SEED = _run_seed()
REPLAY = f"fuzz seed {SEED}: replay with NEUROATTACK_FUZZ_SEED={SEED}"
TRIED: Counter = Counter()
REFUSED: Counter = Counter()  # command-line inputs answered with exit 2
CLEAR = (ValueError, FileNotFoundError)


def fuzz(examples: int = EXAMPLES_PER_TARGET):
    """Run a ``@given`` test on ``examples`` inputs drawn from :data:`SEED`, check that it tried
    them all (``TRIED``), and name the seed in any failure."""

    def decorate(test):
        test = seed(SEED)(
            settings(
                max_examples=examples,
                deadline=None,
                suppress_health_check=[
                    HealthCheck.too_slow,
                    HealthCheck.data_too_large,
                    HealthCheck.function_scoped_fixture,
                ],
            )(test)
        )

        @functools.wraps(test)
        def run(*args, **kwargs):
            start = sum(TRIED.values())
            try:
                test(*args, **kwargs)
            except Exception as err:
                raise AssertionError(REPLAY) from err
            tried = sum(TRIED.values()) - start
            assert tried >= examples, f"{tried} inputs tried, {examples} stated ({REPLAY})"

        return run

    return decorate


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print(f"\n{REPLAY}")
    print("fuzz inputs tried per target: " + ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())))
    print("refused with one line: " + ", ".join(f"{k} {v}" for k, v in sorted(REFUSED.items())))


def _clear_or_ok(fn, path=None):
    """Run ``fn``; a clear error must name the file (when there is one) in one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except CLEAR as err:
        msg = str(err)
        assert "\n" not in msg.strip(), msg
        if path is not None:
            assert str(path) in msg or Path(path).name in msg, msg
        return None


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    buf = bytearray(data)
    for pos, val in edits:
        if buf:
            buf[pos % len(buf)] = val
    return bytes(buf[:cut] if cut is not None else buf)


EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8)
CUTS = st.one_of(st.none(), st.integers(0, 4000))


# -- event readers -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    from neuroattack.data.readers import write_nmnist_file

    ev = np.zeros(20, dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
    ev["x"], ev["y"], ev["t"], ev["p"] = np.arange(20) % 34, np.arange(20) % 30, np.arange(20) * 10, np.arange(20) % 2
    write_nmnist_file(folder / "a.bin", ev)
    np.savez(folder / "a.npz", x=ev["x"], y=ev["y"], t=ev["t"], p=ev["p"])
    shutil.copy(ROOT / "tests" / "fixtures" / "davis346_sample.aedat4", folder / "a.aedat4")
    return folder


EVENT_READERS = {"bin": read_nmnist_file, "npz": read_npz_events, "aedat4": read_aedat4}


@pytest.mark.parametrize("kind", list(EVENT_READERS))
@fuzz()
@given(edits=EDITS, cut=CUTS, dispatch=st.booleans())
def test_event_readers_on_mutated_files(valid_files, kind, edits, cut, dispatch):
    """Each format is a target of its own; an input is read by its reader or through
    ``read_event_file`` (drawn: an AEDAT 4 read forks a child, the bulk of the time)."""
    TRIED[f"events .{kind}"] += 1
    data = (valid_files / f"a.{kind}").read_bytes()
    if kind == "aedat4":
        data = data[:20000]  # the header and the first packets: the reader's parsing, not 6 MB of copies
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"f.{kind}"
        path.write_bytes(_mutate(data, edits, cut))
        reader = read_event_file if dispatch else EVENT_READERS[kind]
        ev = _clear_or_ok(lambda: reader(path), path)
        if ev is not None:
            assert ev.dtype.names is not None and {"x", "y", "t", "p"} <= set(ev.dtype.names)


NUMBERS = st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True), st.booleans())


@fuzz()
@given(
    fields=st.dictionaries(
        st.sampled_from(["x", "y", "t", "p", "q"]), st.lists(NUMBERS, max_size=6), min_size=0, max_size=5
    ),
    dtype=st.sampled_from([None, "float32", "int8", "uint64", "bool", "U3"]),
)
def test_npz_reader_on_random_arrays(fields, dtype):
    TRIED["events .npz arrays"] += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.npz"
        arrays = {}
        for k, v in fields.items():
            try:
                arrays[k] = np.array(v, dtype=dtype) if dtype else np.array(v)
            except (OverflowError, ValueError):
                arrays[k] = np.array(v, dtype=object).astype(str)
        np.savez(path, **arrays)
        ev = _clear_or_ok(lambda: read_npz_events(path), path)
        if ev is not None:
            assert len(ev) == len(fields["x"]) and np.all(np.isin(ev["p"], (0, 1)))


# -- NIR graphs ----------------------------------------------------------------------------------
VALUES = st.one_of(
    st.floats(-5, 5), st.just(0.0), st.just(float("nan")), st.just(float("inf")), st.just(-1.0), st.just(1e-9)
)


NODE_KINDS = ["LIF", "IF", "CubaLIF", "LI", "Threshold", "Flatten"]


def _neuron_node(draw, kind: str, n: int):
    def p():
        return np.array(draw(st.lists(VALUES, min_size=n, max_size=n)))

    if kind == "LIF":
        return nir.LIF(tau=p(), r=p(), v_leak=p(), v_threshold=p(), v_reset=p())
    if kind == "IF":
        return nir.IF(r=p(), v_threshold=p())
    if kind == "CubaLIF":
        return nir.CubaLIF(tau_syn=p(), tau_mem=p(), r=p(), v_leak=p(), v_threshold=p(), w_in=p())
    if kind == "LI":
        return nir.LI(tau=p(), r=p(), v_leak=p())
    if kind == "Threshold":
        return nir.Threshold(p())
    return nir.Flatten({"input": np.array([n])}, 0, -1)


@st.composite
def nir_graphs(draw):
    n_in = draw(st.integers(1, 5))
    n_layers = draw(st.integers(0, 3))
    nodes = {"input": nir.Input(np.array([n_in]))}
    names = ["input"]
    size = n_in
    for i in range(n_layers):
        n = draw(st.integers(1, 5))
        w = np.array(draw(st.lists(VALUES, min_size=n * size, max_size=n * size))).reshape(n, size)
        nodes[f"w{i}"] = (
            nir.Linear(w)
            if draw(st.booleans())
            else nir.Affine(w, np.array(draw(st.lists(VALUES, min_size=n, max_size=n))))
        )
        nodes[f"n{i}"] = _neuron_node(draw, draw(st.sampled_from(NODE_KINDS)), n)
        names += [f"w{i}", f"n{i}"]
        size = n
    nodes["output"] = nir.Output(np.array([size]))
    names.append("output")
    edges = list(zip(names[:-1], names[1:]))
    extra = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=3))
    g = nir.NIRGraph(nodes=nodes, edges=edges + extra, type_check=False)
    g.metadata = {"dt": draw(st.sampled_from([1e-3, 1e-4, 0.0, -1.0, float("nan"), "x"]))}
    return g


@fuzz()
@given(graph=nir_graphs(), kind=st.sampled_from(["emulator", "reference"]))
def test_any_nir_graph_is_lowered_or_refused_clearly(graph, kind):
    TRIED["NIR graphs"] += 1
    executor = _clear_or_ok(lambda: backends.load(graph, "loihi2" if kind == "emulator" else None, kind))
    if executor is not None:
        x = (torch.rand(2, 3, *executor.in_shape) < 0.5).float()
        result = executor.run(x)
        assert result.output.shape[:2] == (2, 3) and torch.isin(result.window, torch.tensor([0.0, 1.0])).all()


# -- hardware profiles ---------------------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5)
TOML_VALUES = st.one_of(
    st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.booleans(), TEXT, st.just("loihi2")
)
PROFILE_KEYS = [
    "mantissa_bits",
    "exp_min",
    "exp_max",
    "decay_bits",
    "state_bits",
    "threshold_bits",
    "bias_mant_bits",
    "bias_exp_max",
    "shift",
    "headroom",
    "junk",
]


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v) if np.isfinite(v) else ("inf" if v > 0 else "-inf")
    return str(v)


@st.composite
def profile_texts(draw) -> bytes:
    """A hardware profile's TOML: known and unknown tables, keys and values, and trailing garbage."""
    top = draw(st.dictionaries(st.sampled_from(["name", "fixed_point", "extends", "junk"]), TOML_VALUES, max_size=4))
    sections = draw(
        st.dictionaries(
            st.sampled_from(["weights", "neuron", "quantize", "other"]),
            st.dictionaries(st.sampled_from(PROFILE_KEYS), TOML_VALUES, max_size=4),
            max_size=3,
        )
    )
    garbage = draw(st.one_of(st.none(), st.binary(max_size=40)))
    text = "".join(f"{k} = {_toml_value(v)}\n" for k, v in top.items())
    for name, keys in sections.items():
        text += f"[{name}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in keys.items())
    return text.encode() + (garbage or b"")


@fuzz()
@given(text=profile_texts())
def test_profiles_are_loaded_or_refused_clearly(text):
    TRIED["profiles"] += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.toml"
        path.write_bytes(text)
        profile = _clear_or_ok(lambda: backends.load_profile(path), path)
        if profile is not None:
            assert profile.digest() and 1 <= profile.mantissa_bits <= 8


# -- checkpoints ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "m"
    torch.manual_seed(0)
    model = SNN("8FC-3FC", (5,), NeuronConfig())
    config = {
        "model_type": "snn",
        "spec": "8FC-3FC",
        "input_shape": [5],
        "bias": False,
        "dataset": "digits",
        "timesteps": 4,
        "encoding": "bernoulli",
        "neuron": {},
    }
    save_checkpoint(folder, model, config)
    return folder


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=False), st.text(max_size=12)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
CHECKPOINT_EDITS = st.fixed_dictionaries(
    {
        "edits": EDITS,
        "cut": CUTS,
        "config_edit": st.dictionaries(
            st.sampled_from(
                ["model_type", "spec", "input_shape", "bias", "neuron", "timesteps", "encoding", "dataset"]
            ),
            JSON_VALUES,
            max_size=2,
        ),
        "corrupt_json": st.booleans(),
    }
)


def _write_checkpoint(source: Path, folder: Path, edits, cut, config_edit, corrupt_json) -> None:
    """``source`` copied to ``folder`` with ``model.pt`` mutated and ``config.json`` edited or cut."""
    shutil.copytree(source, folder)
    pt = folder / "model.pt"
    pt.write_bytes(_mutate(pt.read_bytes(), edits, cut))
    config = json.loads((folder / "config.json").read_text())
    config.update(config_edit)
    text = json.dumps(config)
    (folder / "config.json").write_text(text[: len(text) // 2] if corrupt_json else text)


@fuzz()
@given(change=CHECKPOINT_EDITS)
def test_checkpoints_load_or_are_refused_clearly(checkpoint, change):
    TRIED["checkpoints"] += 1
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "ck"
        _write_checkpoint(checkpoint, folder, **change)
        loaded = _clear_or_ok(lambda: load_checkpoint(folder), folder)
        if loaded is not None:
            model, _ = loaded
            assert all(torch.isfinite(p).all() for p in model.parameters())


# -- attack streams ------------------------------------------------------------------------------
STREAMS = st.fixed_dictionaries(
    {
        "n": st.integers(0, 3),
        "t": st.integers(0, 3),
        "label_dtype": st.sampled_from(["int64", "float32", "int8", "bool"]),
        "labels": st.lists(st.integers(-3, 20), min_size=3, max_size=3),
        "drop": st.sets(st.sampled_from(["clean", "labels", "kind", "encoding", "timesteps", "settings"]), max_size=2),
        "attrs": st.dictionaries(st.sampled_from(["kind", "encoding", "timesteps"]), TOML_VALUES, max_size=2),
        "image": st.sampled_from([0.5, float("nan"), float("inf"), 2.0]),
    }
)


def _write_streams(path: Path, n, t, label_dtype, labels, drop, attrs, image) -> None:
    """A ``streams.h5`` of ``n`` samples (events of ``t`` steps, or images) with fields dropped and
    attributes replaced."""
    with h5py.File(path, "w") as f:
        arrays = {
            "clean": np.full((n, max(t, 0), 1, 2, 2), 1, np.uint8) if t else np.full((n, 1, 4, 4), image, np.float32),
            "labels": np.array(labels[:n], dtype=label_dtype),
            "targets": np.full(n, -1, np.int64),
            "success": np.zeros(n, bool),
            "pred_clean": np.zeros(n, np.int64),
            "pred_adv": np.zeros(n, np.int64),
        }
        arrays["adversarial"] = arrays["clean"].copy()
        for k, v in arrays.items():
            if k not in drop:
                f.create_dataset(k, data=v)
        meta = {
            "kind": "events" if t else "images",
            "encoding": "events" if t else "direct",
            "timesteps": max(t, 1),
            "settings": "{}",
            **attrs,
        }
        for k, v in meta.items():
            if k not in drop:
                f.attrs[k] = v


@fuzz()
@given(spec=STREAMS)
def test_streams_files_load_or_are_refused_clearly(spec):
    TRIED["streams"] += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "streams.h5"
        _write_streams(path, **spec)
        streams = _clear_or_ok(lambda: load_streams(d), path)
        if streams is not None:
            assert streams.labels.dtype == torch.int64 or streams.labels.dtype.is_floating_point is False
            assert len(streams) == spec["n"]


# -- the command line, through subprocesses --------------------------------------------------------
#: what a command-line input is: the strategies above, written where a command reads it (None: missing)
CLI_INPUTS = st.one_of(
    st.tuples(st.just("nir"), st.one_of(nir_graphs(), st.binary(max_size=300), st.none())),
    st.tuples(st.just("profile"), st.one_of(profile_texts(), st.none())),
    st.tuples(st.just("checkpoint"), st.one_of(CHECKPOINT_EDITS, st.none())),
    st.tuples(st.just("streams"), st.one_of(STREAMS, st.none())),
)


def _valid_nir(path: Path) -> Path:
    g = nir.NIRGraph.from_list(
        nir.Input(np.array([3])),
        nir.Linear(np.array([[1.0, 0.5, 2.0]])),
        nir.IF(r=np.ones(1), v_threshold=np.ones(1)),
        nir.Output(np.array([1])),
    )
    nir.write(path, g)
    return path


def _cli_argv(kind: str, value, folder: Path, checkpoint: Path) -> list[str]:
    """The command that reads an input of ``kind``, with ``value`` written under ``folder``."""
    if kind == "nir":
        path = folder / "g.nir"
        if isinstance(value, nir.NIRGraph):
            try:
                nir.write(path, value)
            except Exception:  # noqa: BLE001 - a graph nir cannot write is written as what it left
                pass
        elif value is not None:
            path.write_bytes(value)
        return ["inspect", "--nir", str(path), "--dt", "1e-3"]
    if kind == "profile":
        path = folder / "p.toml"
        if value is not None:
            path.write_bytes(value)
        return ["inspect", "--nir", str(_valid_nir(folder / "ok.nir")), "--dt", "1e-3", "--profile", str(path)]
    if kind == "checkpoint":
        path = folder / "ck"
        if value is not None:
            _write_checkpoint(checkpoint, path, **value)
        return ["evaluate", "--checkpoint", str(path), "--backend", "norse", "--out", str(folder / "e.json")]
    streams = folder / "streams"
    streams.mkdir()
    if value is not None:
        _write_streams(streams / "streams.h5", **value)
    return ["replay", "--checkpoint", str(checkpoint), "--streams", str(streams), "--backend", "emulator",
            "--out", str(folder / "r")]  # fmt: skip


@fuzz(CLI_EXAMPLES)
@given(case=CLI_INPUTS)
def test_the_command_line_answers_bad_input_in_one_line(checkpoint, case):
    """Inputs of the same kinds through ``neuroattack``: it runs (exit 0) or answers exit 2 with
    one line, never a traceback."""
    kind, value = case
    TRIED[f"CLI subprocesses ({kind})"] += 1
    with tempfile.TemporaryDirectory() as d:
        argv = _cli_argv(kind, value, Path(d), checkpoint)
        done = subprocess.run(
            [sys.executable, "-m", "neuroattack.cli", *argv], capture_output=True, text=True, cwd=ROOT, timeout=300
        )
    lines = [line for line in done.stderr.splitlines() if "Warning" not in line and "warnings.warn" not in line]
    assert "Traceback" not in done.stderr, (argv, done.stderr[-1500:])
    assert done.returncode in (0, 2), (argv, done.returncode, done.stderr[-1500:])
    if done.returncode == 2:
        assert len(lines) == 1 and lines[0].startswith(f"neuroattack {argv[0]}: error: "), (argv, done.stderr[-1500:])
        REFUSED["CLI subprocesses"] += 1


# -- the figures the documents state -------------------------------------------------------------
def test_the_documents_state_the_figures_the_tests_run():
    """docs/reliability.md (and the README, where it names them) state the inputs per target and
    the command-line sample as these tests run them in ``make test``, and how to change and replay."""
    texts = {name: re.sub(r"\s+", " ", (ROOT / name).read_text()) for name in ("README.md", "docs/reliability.md")}
    per_target = {int(m.replace(",", "")) for t in texts.values() for m in re.findall(r"([\d,]+) per target", t)}
    cli = {int(m) for t in texts.values() for m in re.findall(r"a sample of (\d+) commands", t)}
    assert per_target == {STATED_EXAMPLES_PER_TARGET}, per_target
    assert cli == {STATED_CLI_EXAMPLES}, cli
    doc = texts["docs/reliability.md"]
    for name in ("NEUROATTACK_FUZZ_EXAMPLES", "NEUROATTACK_FUZZ_SEED", "per event format"):
        assert name in doc, name
    assert EXAMPLES_PER_TARGET == STATED_EXAMPLES_PER_TARGET or "NEUROATTACK_FUZZ_EXAMPLES" in os.environ
