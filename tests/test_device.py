"""Devices: ``--device``/``device=`` resolve clearly; the emulator and the hardware-in-the-loop twin
give the CPU's spikes exactly on CUDA; training and attacks run there with the CPU's random draws.

The device logic runs here on the CPU (the exact fallback of the int8 product included); the CUDA
half is skipped, with the reason, on machines without a GPU (``scripts/gpu_check.sh`` runs it).
"""

import numpy as np
import pytest
import torch

import backends
from backends.emulator import Int8Product
from neuroattack.device import resolve_device
from neuroattack.draws import bernoulli
from tests.backends import graphs as G
from tests.backends.test_emulator_vs_lava import CASES, FIXED_ONLY

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device here: the CUDA half runs in scripts/gpu_check.sh")


def test_device_names_resolve_or_fail_in_one_line():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if CUDA else "cpu")
    with pytest.raises(ValueError, match="expected one of auto, cpu, cuda"):
        resolve_device("tpu")
    if not CUDA:
        with pytest.raises(ValueError, match="torch sees no CUDA device here"):
            resolve_device("cuda")


def test_cli_names_a_missing_gpu(tmp_path, capsys, digits_checkpoint):
    from neuroattack.cli import main

    if CUDA:
        pytest.skip("this machine has a GPU: --device cuda is valid here")
    argv = ["evaluate", "--checkpoint", str(digits_checkpoint), "--device", "cuda", "--out", str(tmp_path / "e.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "device cuda: torch sees no CUDA device here" in err[0]


@pytest.mark.parametrize("wide", [False, True])
def test_the_int8_products_float_fallback_is_exact(wide):
    """Where a device refuses ``torch._int_mm`` the product runs in float32: the same integers."""
    rng = np.random.default_rng(0)
    high = 3000 if wide else 127  # wide: split into hi * 128 + lo parts
    w = rng.integers(-high, high + 1, size=(37, 300))
    x = torch.as_tensor(rng.random((50, 300)) < 0.4, dtype=torch.int8)
    oracle = x.numpy().astype(np.int64) @ w.T
    product = Int8Product(w)
    assert len(product.parts) == (2 if wide else 1)
    exact = product(x)
    product._int_mm = False  # what a refusing device leaves
    fallback = product(x)
    assert not product._int_mm and np.array_equal(exact.numpy(), oracle) and np.array_equal(fallback.numpy(), oracle)


def test_bernoulli_draws_come_from_the_generators_device():
    probs = torch.full((4, 5), 0.5)
    a = bernoulli(probs, torch.Generator().manual_seed(3))
    b = torch.bernoulli(probs, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    if CUDA:
        c = bernoulli(probs.cuda(), torch.Generator().manual_seed(3))
        assert c.device.type == "cuda" and torch.equal(c.cpu(), a)


# -- the CUDA half -----------------------------------------------------------------------------
@needs_cuda
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("profile", ["loihi2", "loihi2-w4", "float"])
def test_emulator_on_cuda_gives_the_cpus_spikes(profile, case, monkeypatch):
    if profile == "float" and case in FIXED_ONLY:
        pytest.skip("integer-only path")
    make = CASES[case]
    g, x, check = make(profile, monkeypatch) if "monkeypatch" in make.__code__.co_varnames else make(profile)
    cpu = backends.load(g, profile, "emulator").run(x, record=True)
    stepwise = backends.load(g, profile, "emulator", device="cuda", scan="steps")
    check(stepwise, stepwise.run(x, record=True))  # the named path ran on the GPU too (spied in torch's ops)
    fused = backends.load(g, profile, "emulator", device="cuda")
    assert fused.scan == "fused"  # the Triton kernel
    for run in (stepwise.run(x, record=True), fused.run(x, record=True)):
        for i, (a, b) in enumerate(zip(cpu.layers, run.layers)):
            assert b.device.type == "cpu" and torch.equal(a, b), f"population {i}: {int((a != b).sum())} spikes differ"


@needs_cuda
def test_emulator_on_cuda_runs_a_large_batch_exactly():
    g = G.conv(scale=6.0)
    x = G.spikes((2, 8, 8), batch=300, steps=10, density=0.3)
    cpu = backends.load(g, "loihi2", "emulator").run(x)
    gpu = backends.load(g, "loihi2", "emulator", device="cuda", batch_size=128).run(x)
    assert cpu.window.sum() > 0 and torch.equal(cpu.window, gpu.window)


@needs_cuda
@pytest.mark.parametrize("name", ["recurrent", "conv"])
def test_twins_on_cuda_give_the_cpus_spikes(name):
    from neuroattack.victims import NIRSNN, HardwareSNN

    graph = {"recurrent": lambda: G.recurrent(scale=10.0, rec_scale=6.0), "conv": lambda: G.conv(scale=6.0)}[name]()
    model = NIRSNN(graph)
    x = G.spikes(model.input_shape, batch=6, steps=8, density=0.4).transpose(0, 1).float()
    hil = HardwareSNN(model, "loihi2")
    with torch.no_grad():
        ref_cpu, hil_cpu = model(x), hil(x)
        ref_gpu, hil_gpu = model(x.cuda()), hil(x.cuda())
    assert hil_cpu.sum() > 0 and torch.equal(hil_gpu.cpu(), hil_cpu)
    assert torch.equal(ref_gpu.cpu(), ref_cpu)


@needs_cuda
def test_training_and_attacks_run_on_cuda(tmp_path, event_digits):
    from neuroattack.attacks.gradient_runner import run_attack
    from neuroattack.data.datasets import Dataset, load_dataset
    from neuroattack.models.checkpoint import load_checkpoint
    from neuroattack.train import TrainConfig, train
    from neuroattack.victims import Victim

    cfg = TrainConfig(dataset="digits", spec="64FC-10FC", epochs=15, seed=0)
    model, metrics = train(cfg, tmp_path / "ck", progress=False, device="cuda")
    _, on_cpu = train(cfg, None, progress=False, device="cpu")  # the same batches and spikes, float rounding aside
    assert metrics["device"] == "cuda" and metrics["test_accuracy"] > 0.8
    assert abs(metrics["test_accuracy"] - on_cpu["test_accuracy"]) < 0.05
    assert all(p.device.type == "cpu" for p in model.parameters())
    loaded, _ = load_checkpoint(tmp_path / "ck")  # loads on a CPU-only machine
    victim = Victim(loaded, "bernoulli", 8)
    test = load_dataset("digits", "test", 32)
    run = run_attack(victim, test, "pgd", "hart", {"eps": 0.3, "steps": 3}, progress=False, device="cuda")
    assert run.result.success.device.type == "cpu" and run.summary.asr > 0
    _, xt, yt = event_digits
    frames = Dataset("digits-frames", "test", xt[:32], yt[:32], "events", 8)
    ev = Victim(loaded, "events", 8)
    run = run_attack(ev, frames, "g2s-rsf", "stbp", {"steps": 5}, progress=False, device="cuda")
    assert set(run.streams.adversarial.unique().tolist()) <= {0.0, 1.0}
