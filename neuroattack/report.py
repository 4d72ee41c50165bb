"""Tables and plots from the results store: ``neuroattack report --store FILE --out DIR``.

Writes ``report.md`` and ``report.html`` (the same content) and PNG plots under ``plots/``:

- ``asr_sim_vs_hw.png``: simulation vs hardware ASR bars per attack (and profile);
- ``asr_vs_eps.png`` / ``asr_vs_gamma.png``: ASR against the attack's eps or RSF gamma, where a
  sweep varied them;
- ``transfer_heatmap.png``: hardware ASR, crafted-on (rows) x evaluated-on (columns);
- ``raster.png``: one clean and one adversarial event stream with the flipped events marked.
"""

from __future__ import annotations

import html
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from neuroattack.store import ResultStore  # noqa: E402

COLUMNS = [
    ("model", "model"),
    ("attack", "attack"),
    ("crafted on", "crafted"),
    ("backend", "backend"),
    ("profile", "profile"),
    ("sim clean acc", "sim_clean"),
    ("hw clean acc", "hw_clean"),
    ("sim ASR", "sim_asr"),
    ("hw ASR", "hw_asr"),
    ("transfer", "transfer"),
    ("agree clean", "agree_clean"),
    ("agree adv", "agree_adv"),
    ("perturbation (L2/N)", "perturbation"),
]


def _fmt(value: Any, std: Any = None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:.3f}"
        return f"{text} ± {std:.3f}" if std else text
    return str(value)


def crafted_on(run: dict) -> str:
    s = run["settings"]
    if s.get("surrogate"):
        return f"{s['surrogate']} (black-box)"
    if s.get("craft_on") == "hardware":
        return f"{run['model']} on {run['profile']} (HIL)"
    return f"{run['model']} (sim)"


def rows(runs: list[dict]) -> list[dict]:
    """One flat record per run for tables and plots."""
    out = []
    for run in runs:
        sim, hw = run["result"].get("sim", {}), run["result"].get("hardware", {})
        out.append({
            "model": run["model"],
            "attack": run["attack"],
            "crafted": crafted_on(run),
            "backend": run["backend"],
            "profile": run["profile"],
            "sim_clean": hw.get("sim_clean_accuracy", sim.get("clean_accuracy")),
            "hw_clean": hw.get("hw_clean_accuracy"),
            "sim_asr": hw.get("sim_asr", sim.get("asr")),  # without a replay: the attack's own ASR
            "hw_asr": hw.get("hw_asr"),
            "hw_asr_std": hw.get("hw_asr_std"),
            "transfer": hw.get("transfer_rate"),
            "agree_clean": hw.get("agreement_clean"),
            "agree_adv": hw.get("agreement_adv"),
            "perturbation": sim.get("mean_perturbation"),
            "options": run["settings"].get("options", {}),
            "streams": run["artifacts"].get("streams"),
        })
    return out


def _bar_plot(records: list[dict], path: Path) -> None:
    labels = [f"{r['attack']}\n{r['crafted']}\n{r['backend']}/{r['profile']}" for r in records]
    sim = [r["sim_asr"] or 0.0 for r in records]
    hw = [r["hw_asr"] or 0.0 for r in records]
    err = [r["hw_asr_std"] or 0.0 for r in records]
    x = np.arange(len(records))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(records) + 2), 4))
    ax.bar(x - 0.2, sim, 0.4, label="simulation (Norse, float)", color="#4c72b0")
    ax.bar(x + 0.2, hw, 0.4, yerr=err, label="hardware (replayed)", color="#dd8452", capsize=3)
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("attack success rate")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("ASR in simulation vs on hardware")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _sweep_plot(records: list[dict], option: str, path: Path) -> bool:
    groups: dict[str, list[tuple[float, float | None, float | None]]] = defaultdict(list)
    for r in records:
        if option in r["options"]:
            groups[f"{r['model']} {r['attack']} {r['profile']}"].append((r["options"][option], r["sim_asr"], r["hw_asr"]))
    groups = {k: sorted(v) for k, v in groups.items() if len({p[0] for p in v}) > 1}
    if not groups:
        return False
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, pts in groups.items():
        xs = [p[0] for p in pts]
        line = ax.plot(xs, [p[2] if p[2] is not None else np.nan for p in pts], "o-", label=f"{name} (hw)")[0]
        ax.plot(xs, [p[1] if p[1] is not None else np.nan for p in pts], "s--", color=line.get_color(), alpha=0.6,
                label=f"{name} (sim)")
    ax.set_xlabel(option)
    ax.set_ylabel("attack success rate")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    ax.set_title(f"ASR vs {option}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _heatmap(records: list[dict], path: Path) -> bool:
    sources = sorted({r["crafted"] for r in records})
    targets = sorted({f"{r['backend']}/{r['profile']}" for r in records})
    if len(sources) * len(targets) < 2:
        return False
    grid = np.full((len(sources), len(targets)), np.nan)
    for r in records:
        if r["hw_asr"] is not None:
            i, j = sources.index(r["crafted"]), targets.index(f"{r['backend']}/{r['profile']}")
            grid[i, j] = r["hw_asr"] if np.isnan(grid[i, j]) else max(grid[i, j], r["hw_asr"])
    fig, ax = plt.subplots(figsize=(1.6 * len(targets) + 3, 0.6 * len(sources) + 2))
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(targets)), targets, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(sources)), sources, fontsize=8)
    for i in range(len(sources)):
        for j in range(len(targets)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", color="w" if grid[i, j] < 0.6 else "k", fontsize=8)
    fig.colorbar(im, ax=ax, label="hardware ASR")
    ax.set_xlabel("evaluated on")
    ax.set_ylabel("crafted on")
    ax.set_title("Transfer: crafted-on x evaluated-on (best attack per cell)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def raster(clean: np.ndarray, adversarial: np.ndarray, path: Path, title: str = "") -> None:
    """Spike raster of one clean and one adversarial stream ``[T, P, H, W]``, flips marked."""
    c = clean.reshape(clean.shape[0], -1).astype(bool)
    a = adversarial.reshape(adversarial.shape[0], -1).astype(bool)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, data, name in ((axes[0], c, "clean"), (axes[1], a, "adversarial")):
        t, n = np.nonzero(data)
        ax.scatter(t, n, s=2, c="k", marker="|", label="spike")
        ax.set_title(f"{name} ({int(data.sum())} spikes)")
        ax.set_xlabel("time step")
    added = a & ~c
    removed = c & ~a
    t, n = np.nonzero(added)
    axes[1].scatter(t, n, s=60, facecolors="none", edgecolors="#d62728", marker="o",
                    label=f"added by the attack ({int(added.sum())})")
    t, n = np.nonzero(removed)
    axes[1].scatter(t, n, s=60, c="#1f77b4", marker="x", label=f"removed by the attack ({int(removed.sum())})")
    axes[0].set_ylabel("input neuron (polarity, y, x)")
    axes[1].legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _raster_from(records: list[dict], path: Path) -> bool:
    from neuroattack.attacks.streams import load_streams

    for r in records:
        if not r["streams"] or not Path(r["streams"], "streams.h5").is_file():
            continue
        streams = load_streams(r["streams"])
        if streams.kind != "events":
            continue
        changed = (streams.adversarial != streams.clean).flatten(1).any(1) & streams.success
        idx = int(np.flatnonzero(changed.numpy())[0]) if changed.any() else 0
        raster(streams.clean[idx].numpy(), streams.adversarial[idx].numpy(), path,
               f"{r['model']} {r['attack']}: sample {idx}, label {int(streams.labels[idx])}, "
               f"predicted {int(streams.pred_clean[idx])} -> {int(streams.pred_adv[idx])}")
        return True
    return False


def build_report(store_path: str | os.PathLike, out_dir: str | os.PathLike, title: str = "neuroattack report") -> Path:
    """Write the report of every run in the store; returns the HTML path."""
    with ResultStore(store_path, create=False) as store:
        runs = store.runs()
    if not runs:
        raise ValueError(f"results store {store_path}: no finished runs to report")
    records = rows(runs)
    out = Path(out_dir)
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    figures: list[tuple[str, str]] = []
    _bar_plot(records, plots / "asr_sim_vs_hw.png")
    figures.append(("Simulation vs hardware ASR", "plots/asr_sim_vs_hw.png"))
    for option in ("eps", "gamma"):
        if _sweep_plot(records, option, plots / f"asr_vs_{option}.png"):
            figures.append((f"ASR vs {option}", f"plots/asr_vs_{option}.png"))
    if _heatmap(records, plots / "transfer_heatmap.png"):
        figures.append(("Transfer heatmap", "plots/transfer_heatmap.png"))
    if _raster_from(records, plots / "raster.png"):
        figures.append(("Clean and adversarial event stream", "plots/raster.png"))

    header = [c[0] for c in COLUMNS]
    table = [[_fmt(r[k], r.get("hw_asr_std") if k == "hw_asr" else None) for _, k in COLUMNS] for r in records]
    md = [f"# {title}", "", f"{len(records)} runs from `{store_path}`.", "",
          "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in table]
    md += [""] + [f"## {name}\n\n![{name}]({src})\n" for name, src in figures]
    (out / "report.md").write_text("\n".join(md) + "\n")

    cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table)
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    imgs = "".join(f"<h2>{html.escape(n)}</h2><img src='{s}' alt='{html.escape(n)}'>" for n, s in figures)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}"
        "img{max-width:100%;margin:1em 0}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{len(records)} runs from <code>{html.escape(str(store_path))}</code>.</p>"
        f"<table><tr>{heads}</tr>{cells}</table>{imgs}</body></html>"
    )
    html_path = out / "report.html"
    html_path.write_text(page)
    return html_path


def summary_table(store_path: str | os.PathLike) -> str:
    """A short plain-text table (sim ASR, hardware ASR, transfer) of every run, for terminals."""
    with ResultStore(store_path, create=False) as store:
        records = rows(store.runs())
    header = ("model", "attack", "crafted on", "hardware", "sim ASR", "hw ASR", "transfer")
    table = [
        (r["model"], r["attack"], r["crafted"], f"{r['backend']}/{r['profile']}",
         _fmt(r["sim_asr"]), _fmt(r["hw_asr"]), _fmt(r["transfer"]))
        for r in records
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        text = [cell.ljust(w) if i < 4 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        return "  ".join(text)

    head = line(header)
    return "\n".join([head, "-" * len(head), *(line(row) for row in table)])
