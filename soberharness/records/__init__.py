"""Plain records every layer shares (cells, results, findings, steps, writes, outcomes): data only,
importing nothing of the harness."""
