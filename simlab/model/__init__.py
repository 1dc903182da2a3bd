"""The scenario model: files read and checked into ``Scenario`` and ``Topology`` objects.

Owns: yamlsource.py (safe YAML with line and column numbers), problems.py (every error of a file,
as ``file:line:col: key: ...``), topology.py (hosts, links, segments, addresses, routes),
scenario.py (steps and their expectations), schema.py (the JSON Schema of a file),
lessons.py (a scenario's sections as the lessons of `simlab tutorial`).
May import: errors.py, resources.py and the pure parts of checks (outcome, capture);
never docker, an engine or a lab: a file is checked without any engine.
"""
