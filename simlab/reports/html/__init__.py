"""Self-contained HTML reports: one page per scenario (every step with its commands, output,
outcome and the picture of the lab at that step, changes highlighted) and an index page
for `simlab validate --html DIR`. Inline CSS, SVG and script; nothing is fetched.

Owns: page.py. May import: results.py, model, graph, state; never docker.
"""

from simlab.reports.html.page import index_page, page_name, scenario_page

__all__ = ["index_page", "page_name", "scenario_page"]
