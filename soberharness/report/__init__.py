"""Reports of a run (results, tables, charts); nothing in them carries a secret."""
