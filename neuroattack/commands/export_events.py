"""``neuroattack export-events``: adversarial event streams as event files, one per sample."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuroattack.commands.base import Command, add_force, refuse_overwrite


def add_arguments(p: argparse.ArgumentParser) -> None:
    from neuroattack.data.writers import FORMATS

    p.add_argument("--streams", required=True, type=Path, help="directory written by 'neuroattack attack'")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="the event file format")
    p.add_argument("--out", required=True, type=Path, help="folder for the files (NNNNNN.<ext>) and summary.json")
    add_force(p)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from neuroattack.attacks.streams import load_clean_events, load_streams
    from neuroattack.data.events import events_to_frames
    from neuroattack.data.writers import FORMATS, adversarial_events, write_events
    from neuroattack.fileio import write_json

    streams = load_streams(args.streams)
    if streams.kind != "events" or streams.bin_us is None:
        raise ValueError(f"{args.streams}: export-events needs event streams (these hold {streams.kind})")
    binning = streams.settings.get("binning") or {}
    if binning.get("spatial_factor", 1.0) != 1.0 or binning.get("denoise_us") is not None:
        raise ValueError(
            f"{args.streams}: the frames were downsampled or denoised from the sensor's events "
            f"(spatial_factor {binning.get('spatial_factor')}, denoise_us {binning.get('denoise_us')}); "
            "adversarial bins do not map back to single sensor pixels"
        )
    events, sensor = load_clean_events(args.streams)
    if len(events) != len(streams):
        raise ValueError(f"{args.streams}: {len(events)} clean event lists for {len(streams)} streams")
    ext = FORMATS[args.format]
    outputs = [args.out / f"{i:06d}{ext}" for i in range(len(streams))]
    refuse_overwrite([*outputs, args.out / "summary.json"], [args.streams], args.force)
    added, removed = [], []
    for i, out in enumerate(outputs):
        clean = streams.clean[i].numpy().astype(np.uint8)
        binned = events_to_frames(events[i], sensor, len(clean), len(clean) * streams.bin_us)
        if not np.array_equal(binned, clean):
            raise ValueError(f"{args.streams}: stream {i}: the stored clean events do not bin to its clean frames")
        adv = streams.adversarial[i].numpy().astype(np.uint8)
        ev, a, r = adversarial_events(events[i], clean, adv, streams.bin_us)
        write_events(out, ev, args.format, sensor)
        added.append(a)
        removed.append(r)
    summary = {
        "format": args.format,
        "files": len(outputs),
        "bin_us": streams.bin_us,
        "sensor_size": list(sensor),
        "events_added": added,
        "events_removed": removed,
        "mean_events_added": float(np.mean(added)) if added else None,
        "mean_events_removed": float(np.mean(removed)) if removed else None,
        "streams": str(args.streams),
    }
    write_json(args.out / "summary.json", summary)
    print(
        f"wrote {len(outputs)} {args.format} files to {args.out}: events added per sample "
        f"{summary['mean_events_added']:.1f}, removed {summary['mean_events_removed']:.1f} (mean)"
    )
    return 0


COMMAND = Command(
    "export-events", "adversarial event streams as event files (npz, aedat4, nmnist-bin)", add_arguments, run
)
