"""The test bench: SUMO bridge, scenario library, evaluator.

May import: ``model``, ``codec``, ``runtime`` and what runtime wires.
"""

__all__: list[str] = []
