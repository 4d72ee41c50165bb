"""Sharmin et al. findings on MNIST: ANN vs SNN under PGD (white-box), the cross attack (ANN-crafted
inputs on the SNN and SNN-crafted inputs on the ANN, i.e. black-box transfer), and leak and
time-steps as robustness knobs of Bernoulli-coded SNNs.

    python scripts/sharmin_findings.py [--quick] [--executor ray]
"""

from neuroattack.models.neurons import NeuronConfig
from neuroattack.studies import ensure_model, profile, study_main
from neuroattack.sweep import RunSpec
from neuroattack.train import TrainConfig


def build(args):
    q = args.quick
    spec = "128FC-10FC" if q else "16C5-AP2-32C5-AP2-10FC"
    common = {"dataset": "mnist", "spec": spec, "epochs": 3 if q else 4, "n_train": 10000 if q else None,
              "n_test": 500 if q else 2000}
    tag = ("128FC" if q else "conv") + ("-quick" if q else "")

    def snn(leak=0.5, timesteps=8):
        cfg = TrainConfig(**common, timesteps=timesteps, neuron=NeuronConfig(leak=leak))
        return str(ensure_model(f"mnist-{tag}-l{leak}-T{timesteps}-s0", cfg, args.models))

    ann = str(ensure_model(f"mnist-{tag}-ann", TrainConfig(**common, model_type="ann", loss="ce"), args.models))
    n = args.n or (100 if q else 500)
    hw = profile("loihi2")
    specs = []
    for eps in (4 / 255, 8 / 255, 16 / 255):
        opts = {"eps": eps, "alpha": eps / 4, "steps": 7, "eot": 2, "eval_draws": 4}
        base = snn()
        specs += [
            RunSpec(ann, "pgd", "ann", opts, "none", hw, n=n, label="ann"),  # ANN, white-box
            RunSpec(base, "pgd", "stbp", opts, "emulator", hw, n=n, draws=2, label="snn-l0.5-T8"),  # SNN, white-box
            RunSpec(base, "pgd", "ann", opts, "emulator", hw, n=n, draws=2, surrogate=ann, label="snn-l0.5-T8"),
            RunSpec(ann, "pgd", "stbp", opts, "none", hw, n=n, surrogate=base, label="ann"),  # SNN-crafted on ANN
        ]
        for leak in (0.9, 1.0):  # leak knob (0.5 above)
            specs.append(RunSpec(snn(leak=leak), "pgd", "stbp", opts, "emulator", hw, n=n, draws=2,
                                 label=f"snn-l{leak}-T8"))
        for steps in (4, 16):  # time-steps knob (8 above)
            specs.append(RunSpec(snn(timesteps=steps), "pgd", "stbp", opts, "emulator", hw, n=n, draws=2,
                                 label=f"snn-l0.5-T{steps}"))
    return specs


if __name__ == "__main__":
    study_main("Sharmin et al. findings on MNIST: ANN vs SNN, cross attack, leak, time-steps", build, "sharmin")
