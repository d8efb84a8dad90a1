"""Helpers for the console's browser tests: open the console in a language, visit a route,
and walk the DOM for text left in the other language."""

from __future__ import annotations

from typing import Any

__all__ = ["UNTRANSLATED_JS", "open_console", "show_route", "untranslated"]

# Visible text (text nodes, and the title / aria-label / placeholder of visible elements) that
# is not in the language shown. Skipped: <script>/<style>, anything under [translate=no] (data:
# ids, names, what an operator or a decoder wrote) or under an element whose own lang differs
# (the language switch names each language in itself).
#   zh: a token is English when it has a lower-case Latin letter and no digit, after splitting on
#       spaces, punctuation and "/" (not "-": "veh-01" is one id), unless it is a unit or a command-line word (ALLOWED) or a
#       command-line option ("--mqtt"); all-capital codes (ICW, GB/T, ACK, VIN) and ids with
#       digits (veh-01, p99) are fine.
#   en: any Han character is untranslated.
UNTRANSLATED_JS = r"""(lang) => {
  const ALLOWED = new Set(["s", "ms", "m", "km", "h", "min", "kWh", "kW", "mV", "mA", "Hz", "dB",
    "kPa", "km/h", "m/s", "rpm", "serve", "demo", "mqtt", "udp", "evaluate", "v2xcloud"]);
  const han = /[\u3400-\u9fff]/;
  const skipped = (el) => el.closest("script, style, [translate=no]") ||
    el.closest(`[lang]:not([lang="${document.documentElement.lang}"]):not(html)`);
  const visible = (el) => el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const english = (text) => text.split(/[\s,.;:!?()（）【】\[\]{}<>"'“”‘’·…|=+*&%#@^~$\/\\，。：；、→←↑↓▶●○⚠—]+/u)
    .filter((token) => token && !token.startsWith("--"))
    .some((token) => /[a-z]/.test(token) && !/\d/.test(token) && !ALLOWED.has(token)
      && !/^[A-Z][A-Z0-9_/]*$/.test(token));
  const wrong = (text) => (lang === "zh" ? english(text) : han.test(text));
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue.trim();
    const el = node.parentElement;
    if (!text || !el || skipped(el) || !visible(el)) continue;
    if (wrong(text)) found.push(`${el.tagName.toLowerCase()}#${el.id || ""}.${el.className || ""}: ${text}`);
  }
  for (const el of document.body.querySelectorAll("[title], [aria-label], [placeholder]")) {
    if (skipped(el) || !visible(el)) continue;
    for (const attribute of ["title", "aria-label", "placeholder"]) {
      const text = el.getAttribute(attribute);
      if (text && wrong(text)) found.push(`${el.tagName.toLowerCase()}#${el.id || ""}[${attribute}]: ${text}`);
    }
  }
  return found;
}"""


def open_console(browser: Any, url: str, locale: str, **page_options: Any) -> Any:
    """A new page (in its own context, with ``locale`` as the browser's language) on the console,
    once the first view is up."""
    context = browser.new_context(locale=locale, **page_options)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => window.v2x && window.v2x.router && window.v2x.router.active")
    return page


def show_route(page: Any, view_id: str, settle_ms: int = 1500) -> None:
    """Go to ``#/view_id``; wait until it is shown and, if the view says when it is ready
    (``ready()``), until it is, then ``settle_ms`` more for polls to fill it."""
    page.evaluate("id => { location.hash = '#/' + id; }", view_id)
    page.wait_for_function("id => window.v2x.router.active === id", arg=view_id)
    page.wait_for_function(
        "id => { const v = window.v2x.views[id]; return !v.ready || v.ready(); }",
        arg=view_id,
        timeout=20_000,
    )
    page.wait_for_timeout(settle_ms)


def untranslated(page: Any, language: str) -> list[str]:
    """What the page shows that is not in ``language`` ("zh" or "en")."""
    found: list[str] = page.evaluate(UNTRANSLATED_JS, language)
    return found
