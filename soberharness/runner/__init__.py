"""Executing: cells, steps and sequences run on a target, observed, and handed to the checker."""
