"""What an application warns on one view, once that view has held long enough to confirm."""

from __future__ import annotations

from v2xcloud.apps.base import App
from v2xcloud.model import Advisory
from v2xcloud.twin import SceneView


def on_settled_tick(app: App, view: SceneView, now_ms: int = 0) -> list[Advisory]:
    """The advisories ``app`` issues at ``now_ms`` on ``view`` after the same view on each of
    the ``confirm_ticks`` - 1 ticks before (``AppConfig.confirm_ticks``): a single view's
    verdict, for an app that confirms a new hazard over several ticks as for one that does
    not."""
    tick = app.config.tick_ms
    out: list[Advisory] = []
    for k in range(app.config.confirm_ticks - 1, -1, -1):
        out.extend(app.on_tick(view, now_ms - k * tick))
    return out
