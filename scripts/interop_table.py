"""Print the interop table of docs/backends.md: framework exports run on the emulator, on Lava and on the reference.

For every network of backends/interop_nets.py (snnTorch and rockpool exported live, sinabs
from its committed exports): the spikes of every population on the emulator vs Lava fixed_pt
(``loihi2``) and vs Lava floating_pt, and the float reference's output vs the framework's own.

    python scripts/interop_table.py            # needs the interop extra (make test installs it)
"""

import tempfile
import warnings
from pathlib import Path

import torch

import backends
from backends import interop_nets as I


def _match(a_layers, b_layers) -> str:
    same = sum(int((a == b).sum()) for a, b in zip(a_layers, b_layers))
    total = sum(a.numel() for a in a_layers)
    return f"{same}/{total}"


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
    rows = []
    found = norse_exports(folder) + I.snntorch_exports(folder) + I.rockpool_exports(folder) + I.sinabs_exports()
    for e in found:
        graph = backends.read_graph(e.path)
        out = {}
        for profile in ("loihi2", "float"):
            emu = backends.load(graph, profile, "emulator", framework=e.framework, reset=e.reset).run(e.x, record=True)
            lava = backends.load(graph, profile, "lava", framework=e.framework, reset=e.reset).run(e.x, record=True)
            out[profile] = _match(emu.layers, lava.layers)
        net = backends.lower(graph, framework=e.framework, reset=e.reset)
        ref = backends.load(graph, None, "reference", framework=e.framework, reset=e.reset).run(e.x)
        own = torch.as_tensor(e.own, dtype=torch.float32)
        agree = float((ref.output == own).float().mean())
        kinds = "+".join(sorted({p.neuron for p in net.populations}))
        rec = ", recurrent" if net.recurrent else ""
        rows.append(
            f"| {e.framework} {e.version} | {e.network} | {kinds}{rec}, dt {net.dt:g} s | {out['loihi2']} | "
            f"{out['float']} | {agree:.3f}{' (exact)' if torch.equal(ref.output, own) else ''} | {e.note or '-'} |"
        )
    print(
        "| framework | network | lowered as | emulator = Lava fixed_pt (spikes, every population) | "
        "emulator = Lava floating_pt | reference vs framework's own output | exporter off-spec |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
