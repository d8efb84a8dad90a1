"""Replay of recorded traffic: tracks, signal states and a lane map fed into the platform.

Reads INTERACTION-style track CSVs (roadside tracks become RSM-like perceived objects), signal
phase CSVs (become SPAT) and KML lane maps (become MAP), georeferenced by the recording's
origin, and runs them through the runtime faster than real time.

May import: ``model``, ``codec``, ``runtime``, ``geo``, ``twin``, ``apps``.
"""

from v2xcloud.replay._csv import RowIssue
from v2xcloud.replay.georef import origin_from_meta
from v2xcloud.replay.kml import read_kml_map
from v2xcloud.replay.signals import SignalRecording, light_of_movement_state, read_signals
from v2xcloud.replay.tracks import Tracks, kind_of_agent, read_tracks, rsm_frames

__all__ = [
    "RowIssue",
    "SignalRecording",
    "Tracks",
    "kind_of_agent",
    "light_of_movement_state",
    "origin_from_meta",
    "read_kml_map",
    "read_signals",
    "read_tracks",
    "rsm_frames",
]
