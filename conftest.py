"""Loads the harness's pytest plugin for every suite in this repository."""

pytest_plugins = ["soberharness.pytest_plugin"]
