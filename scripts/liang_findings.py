"""Liang et al. seed findings on our data: Table III (inputs with an all-zero first gradient),
Table VII (ASR of MSE- vs CE-trained models, untargeted and targeted; CE on spike counts and CE on
rates), Fig. 11 (G2S with and
without probabilistic sampling), Fig. 12 (ASR and perturbation vs RSF gamma) and Fig. 14
(penultimate-layer threshold while crafting). Spike inputs: nmnist-sim; image inputs: MNIST
(Bernoulli, Algorithm 1's image path). Every run is also replayed on the Loihi-2 emulator.

    python scripts/liang_findings.py [--quick] [--executor ray]
"""

from neuroattack.experiments.pipeline import RunSpec
from neuroattack.experiments.studies import mnist_model, nmnist_snn, study_main


def build(args):
    q = args.quick
    models = {}
    for loss in ("mse", "ce", "ce-rates"):  # CE on spike counts and on rates: the seeds read CE both ways
        models[("nmnist-sim", loss)] = nmnist_snn(args.models, q, loss, device=args.device)
        models[("mnist", loss)] = mnist_model(args.models, q, device=args.device, loss=loss)
    n = args.n or (100 if q else 500)  # Liang: 500 untargeted inputs
    n_t = max(10, n // 10)  # targeted: each input against the 9 other classes
    hw = "loihi2"
    base = {"steps": 25, "gamma": 0.05}
    specs = []

    def add(data, loss, options, targeted=False, tag=""):
        count = n_t if targeted else n
        specs.append(
            RunSpec(
                models[(data, loss)],
                "g2s-rsf",
                "stbp",
                {**options, "targeted": targeted},
                "emulator",
                hw,
                n=count,
                draws=2,
                label=f"{data}-{loss}{tag}",
            )
        )

    for data in ("nmnist-sim", "mnist"):
        for loss in ("mse", "ce", "ce-rates"):
            add(data, loss, base)  # Table III and Table VII untargeted
            add(data, loss, base, targeted=True)  # Table VII targeted
    for targeted in (False, True):
        add("nmnist-sim", "mse", {**base, "sampling": False}, targeted, "-nosampling")  # Fig. 11
        for gamma in (0.01, 0.1, 0.2):  # Fig. 12 (0.05 above)
            add("nmnist-sim", "mse", {**base, "gamma": gamma}, targeted)
        for thr in (1.5, 2.0, 3.0):  # Fig. 14, CE models (1.0 = no override, above)
            add("nmnist-sim", "ce", {**base, "penultimate_threshold": thr}, targeted, f"-thr{thr}")
            add("mnist", "ce", {**base, "penultimate_threshold": thr}, targeted, f"-thr{thr}")
    return specs


if __name__ == "__main__":
    study_main("Liang et al. findings on nmnist-sim and MNIST", build, "liang")
