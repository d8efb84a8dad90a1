"""The ``v2xcloud`` command: one subcommand module per capability.

May import: everything (the CLI sits on top of all layers).
"""

__all__: list[str] = []
