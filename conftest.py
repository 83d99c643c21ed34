"""Registers the DPoP conformance plugin for runs from a source checkout (installed, its entry point does)."""

pytest_plugins = ["conformance.run.plugin"]
