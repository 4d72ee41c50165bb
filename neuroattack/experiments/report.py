"""Tables and plots from the results store: ``neuroattack report --store FILE --out DIR``.

Writes ``report.md`` and ``report.html`` (the same content) and PNG plots under ``plots/``:

- ``asr_sim_vs_hw.png``: simulation vs hardware ASR bars per attack (and profile), with their 95 %
  Wilson intervals over inputs as error bars (the table adds the spread over Bernoulli draws);
- ``asr_vs_eps.png`` / ``asr_vs_gamma.png`` / ``asr_vs_budget.png``: ASR against the attack's eps,
  RSF gamma or event budget (robustness curves), where a sweep varied them;
- ``transfer_heatmap.png``: hardware ASR, crafted-on (rows) x evaluated-on (columns);
- ``threat_models.png``: hardware ASR (95 % Wilson interval) of each threat model (white-box
  crafted in simulation and replayed, hardware-in-the-loop, query-only) per model and profile,
  where the store holds more than one;
- ``raster.png``: one clean and one adversarial event stream with the flipped events marked.

Every rate in the table stands beside the 95 % Wilson interval of its own count: "sim ASR" (and
"sim clean acc") is the attack's, over every input it attacked
(:class:`~neuroattack.attacks.attack_summary.AttackSummary`); "sim ASR, replayed inputs" and "hw
ASR" are the replay's, over the inputs replayed (:class:`~neuroattack.replay_metrics.ReplayMetrics`:
the first ``hw_n`` on Lava, the replay's own draws of Bernoulli inputs), so the two simulation
figures of one run may differ. The terminal table (:func:`summary_table`) shows the same cells.
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

from neuroattack.attacks.attack_summary import AttackSummary  # noqa: E402
from neuroattack.experiments.run_record import RunRecord  # noqa: E402
from neuroattack.experiments.store import ResultStore  # noqa: E402

COLUMNS = [
    ("model", "model"),
    ("attack", "attack"),
    ("settings", "settings"),
    ("crafted on", "crafted"),
    ("backend", "backend"),
    ("profile", "profile"),
    ("sim clean acc", "sim_clean"),
    ("hw clean acc", "hw_clean"),
    ("budget", "budget"),
    ("events to fool: median (+added / -removed)", "events"),
    ("sim ASR", "sim_asr"),
    ("sim ASR 95 %", "sim_asr_interval"),
    ("random ASR, same events", "random_asr"),
    ("sim ASR, replayed inputs", "replay_sim_asr"),
    ("sim ASR, replayed inputs 95 %", "replay_sim_asr_interval"),
    ("hw ASR", "hw_asr"),
    ("hw ASR 95 %", "hw_asr_interval"),
    ("hw ASR over draws", "hw_asr_draw_range"),
    ("hw no decision", "hw_no_decision"),
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
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    return str(value)


_ROUTINE = {"alpha", "eot", "eval_draws", "steps", "grad_options", "budget"}  # budget: its own column


def settings_text(options: dict) -> str:
    """The options that tell runs of one attack apart, compact: ``eps 8/255, targeted``."""
    parts = []
    for key, value in sorted(options.items()):
        if key in _ROUTINE or value is None or (key == "targeted" and value is False):
            continue
        if key == "eps" and isinstance(value, (int, float)):
            parts.append(f"eps {value * 255:.3g}/255")
        elif isinstance(value, bool):
            parts.append(key if value else f"no {key}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def _surrogate(run: RunRecord) -> str | None:
    """The surrogate's name (the attack summary's label; older rows kept it in the settings)."""
    sim = run.result.sim
    path = (sim.surrogate if sim is not None else None) or run.settings.get("surrogate")
    return None if path is None else Path(path).name


def crafted_on(run: RunRecord) -> str:
    """What the inputs were crafted on: ``"m (sim)"``, ``"s (black-box)"``, ``"m on loihi2 (HIL)"``,
    ``"queries to emulator/loihi2"``."""
    surrogate, craft = _surrogate(run), run.settings.get("craft_on")
    if surrogate:
        return f"{surrogate} (black-box)"
    if craft == "hardware":
        return f"{run.model} on {run.profile} (HIL)"
    if craft == "query":
        return f"queries to {run.backend}/{run.profile}"
    return f"{run.model} (sim)"


def threat_model(run: RunRecord) -> str:
    """Which attacker a run models: ``"white-box (sim, replayed)"``, ``"black-box transfer"``,
    ``"hardware-in-the-loop"`` or ``"query: <attack>"``."""
    craft = run.settings.get("craft_on")
    if _surrogate(run):
        return "black-box transfer"
    if craft == "hardware":
        return "hardware-in-the-loop"
    if craft == "query":
        return f"query: {run.attack.split('/')[0]}"
    return "white-box (sim, replayed)"


def rows(runs: list[RunRecord]) -> list[dict]:
    """One flat record per run for tables and plots (the report's view; the store holds the
    typed :class:`~neuroattack.experiments.run_record.RunRecord`)."""
    out = []
    for run in runs:
        sim = run.result.sim or AttackSummary(None, None, None)
        hw = run.result.hardware
        on_hw = sim.backend is not None  # a query attack: its own figures are the deployment's
        options = run.settings.get("options", {})
        out.append(
            {
                "model": run.model,
                "attack": run.attack,
                "crafted": crafted_on(run),
                "settings": settings_text(options),
                "backend": run.backend,
                "profile": run.profile,
                # each rate beside its interval from the same counts: the attack's in simulation
                # (AttackSummary, every attacked input), the replay's (ReplayMetrics, the inputs
                # replayed: a subset on Lava, fresh draws of Bernoulli inputs)
                "sim_clean": None if on_hw else sim.clean_accuracy,
                "hw_clean": hw.hw_clean_accuracy if hw else None,
                "sim_asr": None if on_hw else sim.asr,
                "sim_asr_interval": None if on_hw else sim.asr_interval(),
                "replay_sim_asr": hw.sim_asr if hw else None,
                "replay_sim_asr_interval": hw.sim_asr_interval() if hw else None,
                "hw_asr": hw.hw_asr if hw else None,
                "hw_asr_std": hw.hw_asr_std if hw else None,
                "hw_asr_interval": hw.hw_asr_interval() if hw else None,
                "hw_asr_draw_range": hw.hw_asr_draw_range if hw and hw.draws > 1 else None,
                "threat": threat_model(run),
                "transfer": hw.transfer_rate if hw else None,
                "agree_clean": hw.agreement_clean if hw else None,
                "agree_adv": hw.agreement_adv if hw else None,
                "perturbation": sim.mean_perturbation,
                "budget": sim.budget,
                "events": events_cell(sim),
                "random_asr": sim.random_asr,
                "beats_random": sim.beats_random,
                "hw_no_decision": hw.hw_no_decision_rate if hw else None,
                "options": options,
                "streams": run.artifacts.get("streams"),
            }
        )
    return out


_BARS_PER_ROW = 20


def _error_bars(values: list[float], intervals: list) -> list[list[float]]:
    """Asymmetric error bars ``[below, above]`` from ``[lo, hi]`` intervals (none: a zero bar)."""
    below = [v - iv[0] if iv else 0.0 for v, iv in zip(values, intervals)]
    above = [iv[1] - v if iv else 0.0 for v, iv in zip(values, intervals)]
    return [[max(b, 0.0) for b in below], [max(a, 0.0) for a in above]]


def _bar_plot(records: list[dict], path: Path) -> bool:
    """Sim vs hardware ASR bars for every replayed run, 20 runs per panel row."""
    records = [r for r in records if r["hw_asr"] is not None]
    if not records:
        return False
    chunks = [records[i : i + _BARS_PER_ROW] for i in range(0, len(records), _BARS_PER_ROW)]
    width = max(6.0, 0.65 * min(len(records), _BARS_PER_ROW) + 2)
    fig, axes = plt.subplots(len(chunks), 1, figsize=(width, 4.2 * len(chunks)), squeeze=False)
    for ax, chunk in zip(axes[:, 0], chunks):
        labels = [f"{r['model']}\n{r['attack']} {r['settings']}\n{r['crafted']}\n{r['profile']}" for r in chunk]
        x = np.arange(len(chunk))
        for offset, key, label, color in (
            (-0.2, "sim_asr", "simulation (Norse, float)", "#4c72b0"),
            (0.2, "hw_asr", "hardware (replayed)", "#dd8452"),
        ):
            values = [r[key] or 0.0 for r in chunk]
            errors = _error_bars(values, [r[f"{key}_interval"] for r in chunk])
            ax.bar(x + offset, values, 0.4, yerr=errors, label=label, color=color, capsize=3)
        ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=6)
        ax.set_xlim(-0.6, max(len(chunk), 4) - 0.4)
        ax.set_ylabel("attack success rate (95 % Wilson interval)")
        ax.set_ylim(0, 1.2)  # headroom for the legend above bars near 1
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    axes[0, 0].set_title("ASR in simulation vs on hardware")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _threat_plot(records: list[dict], path: Path) -> bool:
    """Hardware ASR with 95 % intervals per threat model, one panel per model, a bar group per profile."""
    records = [r for r in records if r["hw_asr"] is not None]
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_model[r["model"]].append(r)
    by_model = {m: rs for m, rs in by_model.items() if len({r["threat"] for r in rs}) > 1}
    if not by_model:
        return False
    fig, axes = plt.subplots(1, len(by_model), figsize=(6.5 * len(by_model), 4.2), squeeze=False)
    for ax, (model, rs) in zip(axes[0], sorted(by_model.items())):
        profiles = list(dict.fromkeys(r["profile"] for r in rs))
        threats = list(dict.fromkeys(r["threat"] for r in rs))
        width = 0.8 / len(threats)
        for j, threat in enumerate(threats):
            xs, ys, intervals = [], [], []
            for i, profile in enumerate(profiles):
                hit = [r for r in rs if r["threat"] == threat and r["profile"] == profile]
                if not hit:
                    continue
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(hit[0]["hw_asr"])
                intervals.append(hit[0]["hw_asr_interval"])
            ax.bar(xs, ys, width, yerr=_error_bars(ys, intervals), capsize=3, label=threat)
        ax.set_xticks(range(len(profiles)), profiles)
        ax.set_ylim(0, 1.25)
        ax.set_ylabel("hardware ASR (95 % Wilson interval)")
        ax.set_title(f"{model}: threat models on the deployment")
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


_COVARYING = {"alpha"}  # step sizes scale with eps in the studies; they do not split a curve


def _sweep_plot(records: list[dict], option: str, path: Path) -> bool:
    """One panel per model, one curve per (attack, crafted-on, profile, other options): hardware ASR
    (solid; simulation ASR dashed where there is no hardware) against ``option``."""
    panels: dict[str, dict[str, list[tuple[float, float | None, float | None]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in records:
        if option not in r["options"]:
            continue
        others = {k: v for k, v in r["options"].items() if k != option and k not in _COVARYING}
        curve = (r["attack"], r["crafted"], r["profile"], repr(sorted(others.items(), key=lambda kv: kv[0])))
        panels[r["model"]][curve].append((r["options"][option], r["sim_asr"], r["hw_asr"]))
    panels = {
        model: {c: sorted(pts, key=lambda p: p[0]) for c, pts in curves.items() if len({p[0] for p in pts}) > 1}
        for model, curves in panels.items()
    }
    panels = {m: c for m, c in panels.items() if c}
    if not panels:
        return False
    ncols = min(2, len(panels))
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 3.6 * nrows), squeeze=False)
    for ax, (model, curves) in zip(axes.flat, sorted(panels.items())):
        crafted = {c[1] for c in curves}
        profiles = {c[2] for c in curves}
        for (attack, origin, prof, _), pts in curves.items():
            label = attack + (f", {origin}" if len(crafted) > 1 else "") + (f", {prof}" if len(profiles) > 1 else "")
            xs = [p[0] for p in pts]
            hw = [p[2] for p in pts]
            if all(v is None for v in hw):
                ax.plot(xs, [np.nan if p[1] is None else p[1] for p in pts], "s--", label=f"{label} (sim)")
            else:
                ax.plot(xs, [np.nan if v is None else v for v in hw], "o-", label=label)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel(option if option != "budget" else "event budget (input bins changed per sample)")
        if option == "budget":
            ax.set_xscale("log")
        ax.set_ylabel("ASR (hardware; sim where none)", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=6, loc="upper left", ncol=2)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(f"ASR vs {option}")
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
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.2f}",
                    ha="center",
                    va="center",
                    color="w" if grid[i, j] < 0.6 else "k",
                    fontsize=8,
                )
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
    axes[1].scatter(
        t,
        n,
        s=60,
        facecolors="none",
        edgecolors="#d62728",
        marker="o",
        label=f"added by the attack ({int(added.sum())})",
    )
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
        raster(
            streams.clean[idx].numpy(),
            streams.adversarial[idx].numpy(),
            path,
            f"{r['model']} {r['attack']}: sample {idx}, label {int(streams.labels[idx])}, "
            f"predicted {int(streams.pred_clean[idx])} -> {int(streams.pred_adv[idx])}",
        )
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
    if out.exists() and not out.is_dir():
        raise ValueError(f"report output {out} is a file; the report is a folder (report.md, report.html, plots/)")
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    figures: list[tuple[str, str]] = []
    if _bar_plot(records, plots / "asr_sim_vs_hw.png"):
        figures.append(("Simulation vs hardware ASR", "plots/asr_sim_vs_hw.png"))
    for option in ("eps", "gamma", "budget"):
        if _sweep_plot(records, option, plots / f"asr_vs_{option}.png"):
            figures.append((f"ASR vs {option}", f"plots/asr_vs_{option}.png"))
    if _threat_plot(records, plots / "threat_models.png"):
        figures.append(("Threat models on the deployment", "plots/threat_models.png"))
    if _heatmap(records, plots / "transfer_heatmap.png"):
        figures.append(("Transfer heatmap", "plots/transfer_heatmap.png"))
    if _raster_from(records, plots / "raster.png"):
        figures.append(("Clean and adversarial event stream", "plots/raster.png"))

    header = [c[0] for c in COLUMNS]
    table = [[_fmt(r[k], r.get("hw_asr_std") if k == "hw_asr" else None) for _, k in COLUMNS] for r in records]
    md = [
        f"# {title}",
        "",
        f"{len(records)} runs from `{store_path}`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
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


#: the columns of :func:`summary_table` (the demo's table), the first five left-aligned
SUMMARY_COLUMNS = (
    "model",
    "attack",
    "settings",
    "crafted on",
    "hardware",
    "budget",
    "events",
    "sim ASR",
    "hw ASR",
    "hw ASR 95 %",
    "hw no dec.",
    "transfer",
)


def events_cell(sim: AttackSummary) -> str | None:
    """``"40 (+37/-3)"``: the median events an attack changed to fool, with the mean added and
    removed (over its successes); ``None`` where it fooled nothing or counted no events.

    Example:
        >>> s = AttackSummary(4, 4, 2, median_l0=40.0, mean_events_added=36.5, mean_events_removed=3.0)
        >>> s.inputs = "events"
        >>> events_cell(s)
        '40 (+36.5/-3.0)'
    """
    if sim.inputs != "events" or sim.median_l0 is None or sim.mean_events_added is None:
        return None
    return f"{sim.median_l0:.0f} (+{sim.mean_events_added:.1f}/-{sim.mean_events_removed:.1f})"


def summary_table(store_path: str | os.PathLike) -> str:
    """A short plain-text table of every run, for terminals: the event budget and the events it
    took to fool (median, +added/-removed means; image attacks have none), the simulation ASR (the
    attack's, over every attacked input: the report's "sim ASR") and the hardware ASR with its 95 %
    interval (the replay's), the hardware's no-decision rate, transfer."""
    with ResultStore(store_path, create=False) as store:  # rows of an older store's keys were measured again
        records = rows([r for r in store.runs() if r.keyed_by == "content"])
    header = SUMMARY_COLUMNS
    table = [
        (
            r["model"],
            r["attack"],
            r["settings"] or "defaults",
            r["crafted"],
            f"{r['backend']}/{r['profile']}",
            "–" if r["budget"] is None else str(r["budget"]),
            r["events"] or "–",
            _fmt(r["sim_asr"]),
            _fmt(r["hw_asr"]),
            _fmt(r["hw_asr_interval"]),
            _fmt(r["hw_no_decision"]),
            _fmt(r["transfer"]),
        )
        for r in records
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        text = [cell.ljust(w) if i < 5 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        return "  ".join(text)

    head = line(header)
    return "\n".join([head, "-" * len(head), *(line(row) for row in table)])
