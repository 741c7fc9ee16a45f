"""Lints: what the catalog (and, for some, a seeded world) tells about the schema."""
