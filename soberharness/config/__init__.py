"""Configuration files of the deployment under test: environment templates and their checks."""
