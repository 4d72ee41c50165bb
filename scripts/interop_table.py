"""Print the interop table of docs/backends.md: framework exports run on the emulator, on Lava and on the reference.

For every network of backends/interop_nets.py (snnTorch and rockpool exported live, sinabs
from its committed exports), this project's and Norse's own exports (an LI readout among them),
the Braille RNN of the NIR paper as norse ships it, and a hand-made graph with NIR Delay nodes:
the spikes of every population on the emulator vs Lava fixed_pt (``loihi2``) and vs Lava
floating_pt, and the float reference's output vs the framework's own. A non-spiking readout's
membrane is compared value for value (emulator vs Lava: equal values; reference vs framework: the
largest difference).
Agreement counts spikes, not positions: matching spikes over the spikes of either side
(``backends.interop_nets.spike_match``), so silence matches nothing; a row whose output
population is silent on either side is a failure (marked, and the exit status is 1).

    python scripts/interop_table.py            # needs the interop extra (make test installs it)
"""

import sys
import tempfile
import warnings
from pathlib import Path

import torch

import backends
from backends import interop_nets as I


def _spikes(k: int, n: int) -> str:
    return f"{k}/{n}"


def _per_population(a_layers, b_layers, readout: bool = False) -> tuple[str, bool]:
    """``"k/n, k/n, ..."`` (matching spikes over the union, one per population, input to output;
    a readout: its membrane values equal over all of them) and whether the output population (the
    last) spikes on both sides (a readout: moves)."""
    cells = [_spikes(*I.spike_match(a, b)) for a, b in zip(a_layers[:-1], b_layers[:-1])]
    a, b = a_layers[-1], b_layers[-1]
    if readout:
        cells.append(f"membrane {int((a == b).sum())}/{a.numel()} values")
        return ", ".join(cells), bool(a.abs().sum() > 0 and b.abs().sum() > 0)
    cells.append(_spikes(*I.spike_match(a, b)))
    return ", ".join(cells), not (a.sum() == 0 or b.sum() == 0)


def other_graphs() -> list:
    """The Braille RNN of the NIR paper as norse ships it (no framework output: reference only) and a
    hand-made graph with NIR Delay nodes."""
    import nir
    import numpy as np

    root = Path(__file__).resolve().parents[1]
    braille = I.Exported("norse tests", "1.1.0", "Braille RNN of the NIR paper (12-38r-7 CubaLIF), snnTorch-trained",
                         root / "tests/fixtures/braille.nir", I._input((12,)), None, False,
                         "NIR format 0.2.0 (Input shape [12], no v_reset); snnTorch's step 1e-4 s")  # fmt: skip
    delay_path = Path(tempfile.mkdtemp()) / "delay.nir"
    rng = np.random.default_rng(0)

    def lif(n):
        return nir.LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))

    nodes = {
        "input": nir.Input(np.array([6])),
        "fc_in": nir.Linear(rng.normal(0, 10 / np.sqrt(6), (8, 6))),
        "hidden": lif(8),
        "rec_delay": nir.Delay(1e-3 * (1 + np.arange(8) % 3)),
        "rec": nir.Linear(rng.normal(0, 6 / np.sqrt(8), (8, 8))),
        "fc_out": nir.Linear(rng.normal(0, 10 / np.sqrt(8), (4, 8))),
        "out_delay": nir.Delay(1e-3 * (np.arange(4) % 3)),
        "out": lif(4),
        "output": nir.Output(np.array([4])),
    }
    chain = ["input", "fc_in", "hidden", "fc_out", "out_delay", "out", "output"]
    edges = list(zip(chain[:-1], chain[1:])) + [("hidden", "rec_delay"), ("rec_delay", "rec"), ("rec", "hidden")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    graph.metadata = {"dt": 1e-3}
    nir.write(delay_path, graph)
    delay = I.Exported("hand-made", "nir 1.0.8", "6-8r-4 LIF, Delay nodes on the recurrent path (1-3 steps) and into "
                       "the output (0-2 steps)", delay_path, I._input((6,)), None, False, "")  # fmt: skip
    return [(braille, 1e-4), (delay, None)]


def norse_exports(folder: Path) -> list:
    """This project's Norse models (norse 1.1.0) through its own exporter (neuroattack.export)."""
    import importlib.metadata

    import nir

    from neuroattack.export import to_nir
    from neuroattack.models.neurons import NeuronConfig
    from neuroattack.models.snn import SNN

    out = []
    for leak, what in ((0.5, "16FC-10FC, LIFBox (leak 0.5)"), (1.0, "4C3-AP2-10FC, IAF")):
        torch.manual_seed(0)
        spec, shape = ("16FC-10FC", (6,)) if leak < 1 else ("4C3-AP2-10FC", (1, 6, 6))
        model = SNN(spec, shape, NeuronConfig(leak=leak), init_scale=3.0).eval()
        path = folder / f"norse_{leak}.nir"
        nir.write(path, to_nir(model))
        x = I._input(shape)
        with torch.no_grad():
            own = model(torch.from_numpy(x).transpose(0, 1)).transpose(0, 1).numpy()
        out.append(I.Exported("norse", importlib.metadata.version("norse"), what, path, x, own, True, ""))
    return out


def main() -> int:
    warnings.simplefilter("ignore")
    folder = Path(tempfile.mkdtemp())
    rows, failed = [], []
    found = norse_exports(folder) + I.snntorch_exports(folder) + I.rockpool_exports(folder) + I.sinabs_exports()
    found = [(e, None) for e in found] + [(I.norse_li_export(folder), I.NORSE_LI_DT)] + other_graphs()
    for e, dt in found:
        graph = backends.read_graph(e.path)
        out, ok = {}, True
        how = {"dt": dt, "framework": e.framework if e.framework in backends.FRAMEWORK_DT else None, "reset": e.reset}
        for profile in ("loihi2", "float"):
            emulator = backends.load(graph, profile, "emulator", **how)
            emu = emulator.run(e.x, record=True)
            lava = backends.load(graph, profile, "lava", **how).run(e.x, record=True)
            out[profile], moving = _per_population(emu.layers, lava.layers, emulator.network.readout)
            ok &= moving
        net = emulator.network
        ref = backends.load(graph, None, "reference", **how).run(e.x)
        if e.own is None:
            agree = f"- (no {e.framework} output; reference output {int(ref.output.sum())} spikes)"
            ok &= ref.output.sum() > 0
        elif net.readout:
            own = torch.as_tensor(e.own, dtype=torch.float32)
            diff = float((ref.output - own).abs().max())
            agree = f"membrane: largest difference {diff:.1e} (of {float(own.abs().max()):.3f})"
            ok &= diff < 1e-4 * float(own.abs().max())
        else:
            own = torch.as_tensor(e.own, dtype=torch.float32)
            k, n = I.spike_match(ref.output, own)
            n_ref, n_own = int(ref.output.sum()), int(own.sum())
            ok &= n_ref > 0 and n_own > 0
            exact = ", exact" if torch.equal(ref.output, own) else ""
            agree = f"{k}/{n}{exact} (reference {n_ref}, {e.framework} {n_own})"
        kinds = "+".join(sorted({p.neuron for p in net.populations}))
        rec = (", recurrent" if net.recurrent else "") + (
            ", delays" if any(p.delays is not None for p in net.projections) else ""
        )
        if not ok:
            failed.append(f"{e.framework}: {e.network}")
        rows.append(
            f"| {e.framework} {e.version} | {e.network} | {kinds}{rec}, dt {net.dt:g} s | {out['loihi2']} | "
            f"{out['float']} | {agree} | {e.note or '-'} |{'' if ok else ' **FAIL: an output population is silent**'}"
        )
    print(
        "| framework | network | lowered as | emulator = Lava fixed_pt (matching spikes / spikes of either, per "
        "population) | emulator = Lava floating_pt | reference vs framework's own output (matching / either; "
        "spikes of each) | exporter off-spec |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    if failed:
        print("silent output population (a failure, not a match): " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
