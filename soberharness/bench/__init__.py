"""Benchmarks that print their result beside a reference measured in the same run."""
