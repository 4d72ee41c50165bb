"""What runs many attacks: sweeps, the results store, studies, findings, the report, the bench and
the demo."""
