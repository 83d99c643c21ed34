"""The running: the pytest plugin, the CLI, `check`'s plan, the selectors and the scheduler.

It may import every layer below (client, judge, report) and starts the reference server when no target file
is given. `conformance.run.plugin` is the plugin's one name (the pytest11 entry point, `-p`).
"""
