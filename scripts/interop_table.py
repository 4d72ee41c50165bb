"""Print the interop table of docs/backends.md: framework exports run on the emulator, on Lava and on the reference.

For every network of backends/interop_nets.py (snnTorch and rockpool exported live, sinabs
from its committed exports): the spikes of every population on the emulator vs Lava fixed_pt
(``loihi2``) and vs Lava floating_pt, and the float reference's output vs the framework's own.
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


def _per_population(a_layers, b_layers) -> tuple[str, bool]:
    """``"k/n, k/n, ..."`` (matching spikes over the union, one per population, input to output)
    and whether the output population (the last) spikes on both sides."""
    pairs = [I.spike_match(a, b) for a, b in zip(a_layers, b_layers)]
    silent = a_layers[-1].sum() == 0 or b_layers[-1].sum() == 0
    return ", ".join(_spikes(k, n) for k, n in pairs), not silent


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
    for e in found:
        graph = backends.read_graph(e.path)
        out, ok = {}, True
        for profile in ("loihi2", "float"):
            emulator = backends.load(graph, profile, "emulator", framework=e.framework, reset=e.reset)
            emu = emulator.run(e.x, record=True)
            lava = backends.load(graph, profile, "lava", framework=e.framework, reset=e.reset).run(e.x, record=True)
            out[profile], spiking = _per_population(emu.layers, lava.layers)
            ok &= spiking
        net = emulator.network
        ref = backends.load(graph, None, "reference", framework=e.framework, reset=e.reset).run(e.x)
        own = torch.as_tensor(e.own, dtype=torch.float32)
        k, n = I.spike_match(ref.output, own)
        n_ref, n_own = int(ref.output.sum()), int(own.sum())
        ok &= n_ref > 0 and n_own > 0
        exact = ", exact" if torch.equal(ref.output, own) else ""
        agree = f"{k}/{n}{exact} (reference {n_ref}, {e.framework} {n_own})"
        kinds = "+".join(sorted({p.neuron for p in net.populations}))
        rec = ", recurrent" if net.recurrent else ""
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
