"""``neuroattack report``: a Markdown and HTML report with plots from a results store."""

from __future__ import annotations

import argparse
from pathlib import Path

from neuroattack.commands.base import Command, refuse_overwrite


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="the report directory")


def run(args: argparse.Namespace) -> int:
    from neuroattack.experiments.report import build_report, summary_table

    refuse_overwrite([args.out / "report.md", args.out / "report.html", args.out / "plots" / "x.png"], [args.store])
    path = build_report(args.store, args.out)
    print(summary_table(args.store))
    print(f"report: {path}")
    return 0


COMMAND = Command("report", "Markdown + HTML report with plots from a results store", add_arguments, run)
