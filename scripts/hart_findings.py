"""HART (Hao et al.) table shapes on MNIST: Table 2 (estimators cba/bptr/stbp/rga/hart x FGSM/PGD,
leak 0.5 and 1.0, white-box), Table 3 (the same, black-box: crafted on a model of another seed),
Table 4 (time-steps 4/8/16) and Table 5 (eps 2/4/8 over 255). HART's gamma is tuned on the
validation split (``neuroattack.attacks.tuning``), not on the test set.

    python scripts/hart_findings.py [--quick] [--executor ray]
"""

from neuroattack.attacks.tuning import tune_hart_gamma
from neuroattack.attacks.victim import Victim
from neuroattack.data.datasets import load_dataset
from neuroattack.studies import mnist_model, profile, study_main
from neuroattack.sweep import RunSpec

ESTIMATORS = ("cba", "bptr", "stbp", "rga", "hart")


def build(args):
    q = args.quick

    def model(leak, timesteps=8, seed=0):
        return mnist_model(args.models, q, leak=leak, timesteps=timesteps, seed=seed)

    n = args.n or (100 if q else 500)
    hw = profile("loihi2")
    base = {"eot": 2, "eval_draws": 4}
    specs = []

    def gamma_for(path):
        victim = Victim.from_checkpoint(path)
        val = load_dataset("mnist", "val", 50 if q else 200, victim.timesteps, progress=False)
        best, _ = tune_hart_gamma(victim, val, "fgsm", {**base, "eps": 8 / 255})
        return best

    for leak in (0.5, 1.0):
        target, surrogate = model(leak), model(leak, seed=1)
        gamma = gamma_for(target)
        for grad in ESTIMATORS:
            gopt = {"grad_options": {"gamma": gamma}} if grad == "hart" else {}
            for attack, extra in (("fgsm", {}), ("pgd", {"alpha": 2 / 255, "steps": 7})):
                opts = {**base, **extra, **gopt, "eps": 8 / 255}
                label = f"mnist-l{leak}"
                specs.append(RunSpec(target, attack, grad, opts, "emulator", hw, n=n, draws=2, label=label))  # Table 2
                specs.append(RunSpec(target, attack, grad, opts, "emulator", hw, n=n, draws=2, surrogate=surrogate,
                                     label=label))  # Table 3
                if leak == 0.5 and grad in ("stbp", "rga", "hart"):
                    for eps in (2 / 255, 4 / 255):  # Table 5 (8/255 above)
                        specs.append(RunSpec(target, attack, grad, {**opts, "eps": eps}, "emulator", hw, n=n, draws=2,
                                             label=label))
    for steps in (4, 16):  # Table 4 (T = 8 above)
        target = model(0.5, steps)
        gamma = gamma_for(target)
        for grad in ("stbp", "rga", "hart"):
            gopt = {"grad_options": {"gamma": gamma}} if grad == "hart" else {}
            for attack, extra in (("fgsm", {}), ("pgd", {"alpha": 2 / 255, "steps": 7})):
                specs.append(RunSpec(target, attack, grad, {**base, **extra, **gopt, "eps": 8 / 255}, "emulator", hw,
                                     n=n, draws=2, label=f"mnist-l0.5-T{steps}"))
    return specs


if __name__ == "__main__":
    study_main("HART findings on MNIST: estimators, leak, time-steps, eps", build, "hart")
