"""Quantization sweep: hardware ASR and transfer of G2S/RSF (nmnist-sim) and PGD with HART
gradients (MNIST) under float, Loihi-2 8-bit, 6-bit and 4-bit weight profiles, for inputs crafted
in float simulation (transfer) and crafted hardware-in-the-loop against each fixed-point profile.

    python scripts/quantization_sweep.py [--quick] [--executor ray]
"""

from neuroattack.studies import ensure_model, profile, study_main
from neuroattack.sweep import RunSpec
from neuroattack.train import TrainConfig

PROFILES = ("float", "loihi2", "loihi2_w6", "loihi2_w4")


def build(args):
    q = args.quick
    nm = ensure_model(
        "nmnist-sim-256FC" + ("-quick" if q else ""),
        TrainConfig(dataset="nmnist-sim", spec="256FC-10FC", epochs=6 if q else 15, n_train=4000 if q else None,
                    n_test=500 if q else 2000),
        args.models,
    )
    mn = ensure_model(
        "mnist-128FC-quick" if q else "mnist-conv",
        TrainConfig(dataset="mnist", spec="128FC-10FC" if q else "16C5-AP2-32C5-AP2-10FC", epochs=4,
                    n_train=10000 if q else None, n_test=500 if q else 2000),
        args.models,
    )
    n = args.n or (100 if q else 300)
    g2s = {"iters": 25, "gamma": 0.05}
    pgd = {"eps": 8 / 255, "alpha": 2 / 255, "steps": 7, "eot": 2, "eval_draws": 4}
    specs = []
    for name in PROFILES:
        for craft in ("sim", "hardware") if name != "float" else ("sim",):
            specs.append(RunSpec(str(nm), "g2s-rsf", "stbp", g2s, "emulator", profile(name), n=n, craft_on=craft,
                                 label="nmnist-sim"))
            grad = "hart" if craft == "sim" else "stbp"  # HIL crafting is BPTT through the integer dynamics
            specs.append(RunSpec(str(mn), "pgd", grad, pgd, "emulator", profile(name), n=n, draws=3, craft_on=craft,
                                 label="mnist"))
    return specs


if __name__ == "__main__":
    study_main("Quantization sweep: float / loihi2 / 6-bit / 4-bit weights", build, "quantization")
