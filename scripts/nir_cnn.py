"""The NIR paper's N-MNIST CNN as a NIR file, and nmnist-sim input for it at 300 steps of 1 ms.

Conv 5x5 stride 2 (2 -> 16) -> IF -> Conv 3x3 (16 -> 16) -> IF -> SumPool 2 -> Conv 3x3 (16 -> 8)
-> IF -> SumPool 2 -> Flatten -> 256FC -> IF -> 10FC -> IF, on 34x34x2 event frames (the network
of the NIR paper's N-MNIST task; Pedersen et al., Nature Communications 2024). The weights are
random (seeded), scaled layer by layer until each layer fires at a plausible rate on nmnist-sim:
a workload for ``neuroattack bench backends``, not a classifier.

    python scripts/nir_cnn.py --out runs/nir/nmnist_cnn.nir --frames runs/nir/nmnist300.npz --n 64
    neuroattack bench backends --graph runs/nir/nmnist_cnn.nir --input runs/nir/nmnist300.npz \\
        --lava-samples 4 --emulator-batch 64 --out runs/bench/backends_cnn.json
"""

import argparse
from pathlib import Path

import nir
import numpy as np
import torch

DT = 1e-3
STEPS = 300


def build(seed: int = 0, gains=(2.5, 2.5, 2.5, 2.5, 2.5)) -> nir.NIRGraph:
    """The CNN with random weights; ``gains`` scale each layer's Kaiming-normal weights."""
    rng = np.random.default_rng(seed)

    def kaiming(shape, gain):
        fan_in = int(np.prod(shape[1:]))
        return rng.normal(0, gain / np.sqrt(fan_in), shape)

    def if_(n):
        return nir.IF(r=np.full(n, 1 / DT), v_threshold=np.ones(n), v_reset=np.zeros(n))

    nodes = {
        "input": nir.Input(np.array([2, 34, 34])),
        "c1": nir.Conv2d((34, 34), kaiming((16, 2, 5, 5), gains[0]), 2, 1, 1, 1, np.zeros(16)),
        "n1": if_(16 * 16 * 16),
        "c2": nir.Conv2d((16, 16), kaiming((16, 16, 3, 3), gains[1]), 1, 1, 1, 1, np.zeros(16)),
        "n2": if_(16 * 16 * 16),
        "p2": nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        "c3": nir.Conv2d((8, 8), kaiming((8, 16, 3, 3), gains[2]), 1, 1, 1, 1, np.zeros(8)),
        "n3": if_(8 * 8 * 8),
        "p3": nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        "flat": nir.Flatten({"input": np.array([8, 4, 4])}, 0, -1),
        "fc1": nir.Linear(kaiming((256, 128), gains[3])),
        "n4": if_(256),
        "fc2": nir.Linear(kaiming((10, 256), gains[4])),
        "n5": if_(10),
        "output": nir.Output(np.array([10])),
    }
    order = ["input", "c1", "n1", "c2", "n2", "p2", "c3", "n3", "p3", "flat", "fc1", "n4", "fc2", "n5", "output"]
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])), type_check=False)
    graph.metadata = {"dt": DT}
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the .nir file to write")
    parser.add_argument("--frames", type=Path, default=None, help="also write nmnist-sim frames [N, 300, 2, 34, 34]")
    parser.add_argument("--n", type=int, default=64, help="test samples in --frames")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import backends
    from neuroattack.data.datasets import load_dataset

    args.out.parent.mkdir(parents=True, exist_ok=True)
    graph = build(args.seed)
    nir.write(args.out, graph)
    frames = load_dataset("nmnist-sim", "test", args.n, STEPS).x
    spikes = torch.as_tensor(frames).float()
    result = backends.load(args.out, "loihi2", "emulator", batch_size=16).run(spikes[:16], record=True)
    rates = [round(float(layer.mean()), 4) for layer in result.layers]
    print(f"{args.out}: input density {float(spikes.mean()):.4f}, layer spike rates {rates}")
    if args.frames is not None:
        args.frames.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.frames, spikes=frames.numpy().astype(np.uint8))
        print(f"{args.frames}: {tuple(frames.shape)}")


if __name__ == "__main__":
    main()
