"""What runs many attacks: the run pipeline (craft -> streams -> replay -> record, one function for
the CLI and for sweeps), sweeps, the results store, studies, findings, the report, the bench and
the demo."""
