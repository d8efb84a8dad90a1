"""The test bench: SUMO as the road, the platform under test, ground truth and scores.

May import: ``model``, ``codec``, ``runtime``, ``geo`` (its scenarios' local frame),
``gateways`` (the bench over a real broker). Never imported by the layers below.

One scenario run (``runner.run_scenario``): ``network``/``traffic`` generate a seeded SUMO
network and routes from a scenario file (``scenarios/*.toml``, see :mod:`.scenario`);
``bridge`` steps SUMO through libsumo and applies scripted hazards; ``participants`` and
``signals`` turn each step into BSM (connected vehicles, 10 Hz), RSM (roadside sensors),
SPAT (signal groups, time to change) and MAP models; the codec encodes them to UPER; the
``channel`` delays and drops frames; the platform (``platform.runtime_platform``: the real
``Runtime`` with its apps) decodes and runs. Ground truth comes from SUMO's SSM device and
collisions (``episodes``) and from the ``harness``; ``scorer`` matches warnings to episodes.
``evaluate.evaluate`` runs scenarios one process each (libsumo allows one simulation per process)
and ``report`` writes the table, ``report.json`` and the HTML page with plots. The package
itself imports only the light parts (scenarios, results, channel); the rest on demand.

>>> from v2xcloud.sim import RunConfig, load_library                # doctest: +SKIP
>>> from v2xcloud.sim.evaluate import evaluate                      # doctest: +SKIP
>>> results = evaluate(load_library("fcw_rear_end"), config=RunConfig(latency_ms=50))  # doctest: +SKIP
>>> results[0].scores["FCW"].summary()["recall"]                   # doctest: +SKIP
1.0
"""

from v2xcloud.sim.channel import Channel
from v2xcloud.sim.result import RunConfig, ScenarioResult
from v2xcloud.sim.scenario import Scenario, library_names, load_library, load_scenario

__all__ = [
    "Channel",
    "RunConfig",
    "Scenario",
    "ScenarioResult",
    "library_names",
    "load_library",
    "load_scenario",
]
