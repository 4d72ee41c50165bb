"""Sharmin et al. findings on MNIST: ANN vs SNN under PGD (white-box), the cross attack (ANN-crafted
inputs on the SNN and SNN-crafted inputs on the ANN, i.e. black-box transfer), and leak and
time-steps as robustness knobs of Bernoulli-coded SNNs.

    python scripts/sharmin_findings.py [--quick] [--executor ray]
"""

from neuroattack.experiments.pipeline import RunSpec
from neuroattack.experiments.studies import mnist_model, study_main


def build(args):
    q = args.quick

    def snn(leak=0.5, timesteps=8):
        return mnist_model(args.models, q, device=args.device, leak=leak, timesteps=timesteps)

    ann = mnist_model(args.models, q, device=args.device, model_type="ann")
    n = args.n or (100 if q else 500)
    hw = "loihi2"
    specs = []
    for eps in (4 / 255, 8 / 255, 16 / 255, 32 / 255):  # 32/255: where rate-coded MNIST SNNs start to move
        opts = {"eps": eps, "alpha": eps / 4, "steps": 7, "eot": 2, "eval_draws": 4}
        base = snn()
        specs += [
            RunSpec(ann, "pgd", "ann", opts, "none", hw, n=n, label="ann"),  # ANN, white-box
            RunSpec(base, "pgd", "stbp", opts, "emulator", hw, n=n, draws=2, label="snn-l0.5-T8"),  # SNN, white-box
            RunSpec(base, "pgd", "ann", opts, "emulator", hw, n=n, draws=2, surrogate=ann, label="snn-l0.5-T8"),
            RunSpec(ann, "pgd", "stbp", opts, "none", hw, n=n, surrogate=base, label="ann"),  # SNN-crafted on ANN
        ]
        for leak in (0.9, 1.0):  # leak knob (0.5 above)
            specs.append(
                RunSpec(snn(leak=leak), "pgd", "stbp", opts, "emulator", hw, n=n, draws=2, label=f"snn-l{leak}-T8")
            )
        for steps in (4, 16):  # time-steps knob (8 above)
            specs.append(
                RunSpec(
                    snn(timesteps=steps), "pgd", "stbp", opts, "emulator", hw, n=n, draws=2, label=f"snn-l0.5-T{steps}"
                )
            )
    return specs


if __name__ == "__main__":
    study_main("Sharmin et al. findings on MNIST: ANN vs SNN, cross attack, leak, time-steps", build, "sharmin")
