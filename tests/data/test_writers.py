"""Adversarial frames back to event files: binning the written events again gives exactly the
adversarial frames, in every format, read back through the project's readers."""

import json

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from neuroattack.cli import main
from neuroattack.data.events import make_events
from neuroattack.data.readers import read_aedat4, read_nmnist_file, read_npz_events
from neuroattack.data.writers import adversarial_events


def _bin(events, shape, bin_us):
    """An independent binning: frames[t // bin_us, p, y, x] = 1 for t in the window."""
    out = np.zeros(shape, np.uint8)
    for e in events:
        b = int(e["t"]) // bin_us
        if 0 <= b < shape[0]:
            out[b, int(bool(e["p"])), int(e["y"]), int(e["x"])] = 1
    return out


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(0, 60), flips=st.floats(0.0, 0.3))
def test_the_rule_rebins_to_the_adversarial_frames(seed, n, flips):
    rng = np.random.default_rng(seed)
    shape, bin_us = (4, 2, 5, 6), 100
    clean = make_events(
        rng.integers(0, 6, n), rng.integers(0, 5, n), np.sort(rng.integers(0, 450, n)), rng.integers(0, 2, n)
    )
    frames = _bin(clean, shape, bin_us)
    adv = np.where(rng.random(shape) < flips, 1 - frames, frames).astype(np.uint8)
    events, added, removed = adversarial_events(clean, frames, adv, bin_us)
    assert np.array_equal(_bin(events, shape, bin_us), adv)
    assert added == int(((frames == 0) & (adv == 1)).sum())
    late = clean[clean["t"] >= shape[0] * bin_us]  # outside the window: kept as they are
    assert set(late["t"].tolist()) <= set(events["t"].tolist())
    assert len(events) == n - removed + added and np.all(np.diff(events["t"]) >= 0)


READERS = {
    "npz": read_npz_events,
    "nmnist-bin": read_nmnist_file,
    "aedat4": lambda p: read_aedat4(p, relative_time=False),
}


@pytest.mark.parametrize(
    "fmt, attack", [(fmt, "g2s-rsf") for fmt in READERS] + [("npz", "square")], ids=[*READERS, "npz-query"]
)
def test_export_events_round_trips_an_attack_on_real_format_files(tmp_path, fmt, attack):
    from neuroattack.attacks.streams import load_streams
    from neuroattack.data.datasets import DATASETS
    from tests.data.real_formats import make_nmnist

    root, ck, atk, out = tmp_path / "data", tmp_path / "ck", tmp_path / "atk", tmp_path / "ev"
    make_nmnist(root)
    # trained until it decides: an attack only attacks inputs the network classifies correctly
    assert main(["train", "--dataset", "nmnist", "--model", "32FC-10FC", "--epochs", "15", "--batch-size", "2",
                 "--lr", "0.01", "--lambda", "1", "--timesteps", "6",
                 "--data-root", str(root), "--out", str(ck)]) == 0  # fmt: skip
    budget = ["--steps", "5"] if attack == "g2s-rsf" else ["--queries", "60"]  # square: the chip's counts only
    assert main(["attack", "--checkpoint", str(ck), "--attack", attack, *budget, "--data-root", str(root),
                 "--out", str(atk)]) == 0  # fmt: skip
    assert main(["export-events", "--streams", str(atk), "--format", fmt, "--out", str(out)]) == 0
    streams = load_streams(atk)
    summary = json.loads((out / "summary.json").read_text())
    binning = DATASETS["nmnist"].binning
    changed = 0
    for i in range(len(streams)):
        path = out / f"{i:06d}{'.bin' if fmt == 'nmnist-bin' else '.' + fmt}"
        events = READERS[fmt](path)
        frames = binning.frames(events, 6)
        adv = streams.adversarial[i].numpy().astype(np.uint8)
        assert np.array_equal(frames, adv), f"sample {i}"
        clean = streams.clean[i].numpy().astype(np.uint8)
        assert summary["events_added"][i] == int(((clean == 0) & (adv == 1)).sum())
        changed += int((clean != adv).sum())
    assert changed > 0  # the attack changed bins, so the rule's add and remove paths ran
    assert sum(summary["events_removed"]) + sum(summary["events_added"]) > 0


def test_export_events_refuses_image_streams_and_existing_outputs(tmp_path, digits_checkpoint):
    atk = tmp_path / "atk"
    assert (
        main(["attack", "--checkpoint", str(digits_checkpoint), "--attack", "fgsm", "--n", "4", "--out", str(atk)]) == 0
    )
    assert main(["export-events", "--streams", str(atk), "--format", "npz", "--out", str(tmp_path / "ev")]) == 2
    assert not (tmp_path / "ev").exists() or not any((tmp_path / "ev").iterdir())


def test_audio_events_export_in_the_form_they_were_binned(tmp_path):
    """SHD's events (x, t, p = 1) are kept as the one-row, one-polarity events they are binned as,
    so their adversarial bins map back to channels and the npz file rebins exactly."""
    from neuroattack.attacks.streams import load_streams
    from neuroattack.data.datasets import DATASETS
    from tests.data.real_formats import make_shd

    root, ck, atk, out = tmp_path / "data", tmp_path / "ck", tmp_path / "atk", tmp_path / "ev"
    make_shd(root)
    assert main(["train", "--dataset", "shd", "--model", "32FC-20FC", "--epochs", "1", "--timesteps", "20",
                 "--data-root", str(root), "--out", str(ck)]) == 0  # fmt: skip
    assert main(["attack", "--checkpoint", str(ck), "--attack", "g2s-rsf", "--steps", "3", "--data-root", str(root),
                 "--out", str(atk)]) == 0  # fmt: skip
    assert main(["export-events", "--streams", str(atk), "--format", "npz", "--out", str(out)]) == 0
    streams = load_streams(atk)
    for i in range(len(streams)):
        events = read_npz_events(out / f"{i:06d}.npz")
        assert set(events["y"].tolist()) <= {0} and not events["p"].any()
        assert np.array_equal(DATASETS["shd"].binning.frames(events, 20), streams.adversarial[i].numpy())
