"""The end-to-end demo (``make demo`` / ``neuroattack demo``), sized for 2 CPU cores and minutes.

1. Train a small nmnist-sim SNN (events) and a small Bernoulli-coded MNIST SNN, on subsets (the
   quick models of the study scripts).
2. Export both to NIR (validated against Norse) and write the ``.nir`` files.
3. Attack: G2S/RSF (Liang) on nmnist-sim, PGD with HART gradients on MNIST; G2S/RSF and the
   minimal-event SparseFool crafted in simulation and hardware-in-the-loop, against the Loihi-2
   fixed-point twin; and the silence baseline (every input event removed: no decision).
4. Replay clean and adversarial inputs on Lava ``fixed_pt`` (a subset, for time) and on the
   bit-exact emulator (all), store every run, write the report, print the table.

Models and crafted streams already present in the output directory are reused.
"""

from __future__ import annotations

import time
from pathlib import Path

from neuroattack.experiments.pipeline import RunSpec
from neuroattack.experiments.report import build_report, summary_table
from neuroattack.experiments.studies import accuracy, mnist_model, nmnist_snn
from neuroattack.experiments.sweep import run_sweep
from neuroattack.export import export_trained

LOIHI = "loihi2"


def demo_specs(nmnist: Path, mnist: Path, n: int = 100, lava_n: int = 20) -> list[RunSpec]:
    """The demo's runs: each attack replayed on the emulator (all inputs) and on Lava (a subset);
    on nmnist-sim also G2S/RSF and SparseFool crafted against the fixed-point twin, and the
    silence baseline."""
    g2s = {"steps": 25, "gamma": 0.05}
    pgd = {"eps": 8 / 255, "alpha": 2 / 255, "steps": 7, "eot": 2, "eval_draws": 4}
    specs = []
    for backend, hw_n in (("emulator", None), ("lava", lava_n)):
        specs.append(RunSpec(str(nmnist), "g2s-rsf", "stbp", g2s, backend, LOIHI, n=n, hw_n=hw_n, label="nmnist-sim"))
        specs.append(RunSpec(str(mnist), "pgd", "hart", pgd, backend, LOIHI, n=n, hw_n=hw_n, draws=2, label="mnist"))
    specs.append(
        RunSpec(str(nmnist), "g2s-rsf", "stbp", g2s, "emulator", LOIHI, n=n, craft_on="hardware", label="nmnist-sim")
    )
    # the fewest events: SparseFool crafted in simulation, and against the fixed-point twin
    for craft_on in ("sim", "hardware"):
        specs.append(RunSpec(str(nmnist), "sparsefool", "stbp", {}, "emulator", LOIHI, n=n, craft_on=craft_on,
                             label="nmnist-sim"))  # fmt: skip
    specs.append(RunSpec(str(nmnist), "silence", "stbp", {}, "emulator", LOIHI, n=n, label="nmnist-sim"))
    return specs


def run_demo(out: str | Path = "runs/demo", n: int = 100, lava_n: int = 20) -> dict:
    out = Path(out)
    start = time.perf_counter()
    # the studies' quick models: nmnist-sim 256FC-10FC on 4k samples, MNIST 128FC-10FC on 10k
    paths = {
        "nmnist-sim": Path(nmnist_snn(out / "models", quick=True)),
        "mnist": Path(mnist_model(out / "models", quick=True)),
    }
    for name, path in paths.items():
        export_trained(path, out / "nir" / f"{name}.nir")
    store = out / "results.sqlite"
    run_sweep(demo_specs(paths["nmnist-sim"], paths["mnist"], n, lava_n), store, out / "work")
    html = build_report(store, out / "report", title="neuroattack demo")
    seconds = time.perf_counter() - start
    accuracies = {name: accuracy(path) for name, path in paths.items()}
    print()
    print(summary_table(store))
    print()
    print("trained accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in accuracies.items()))
    print(f"NIR graphs: {out / 'nir'}; report: {html}; wall time {seconds:.0f} s")
    return {"seconds": seconds, "accuracies": accuracies, "report": str(html), "store": str(store)}
