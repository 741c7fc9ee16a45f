"""Plain records every layer shares (cells, results, findings, steps, outcomes): data only,
importing nothing of the harness."""
