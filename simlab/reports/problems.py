"""Problems of scenario files for machines: JSON records and GitHub Actions annotations."""

from __future__ import annotations

import re

WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:(?P<column>\d+):)? (?P<message>.*)$")


def problem_record(text: str, level: str = "error") -> dict:
    """``file:line:col: message`` (as `simlab check` prints it; the column may be missing) as
    {file, line, column, level, message}; 0 stands for a line or column not known."""
    found = WHERE.match(text)
    if found is None:
        return {"file": "", "line": 0, "column": 0, "level": level, "message": text}
    return {"file": found["file"], "line": int(found["line"]), "column": int(found["column"] or 0), "level": level,
            "message": found["message"]}


def github_annotation(problem: dict) -> str:
    """A workflow command that GitHub Actions shows on the file's line (and column) in a pull request."""
    where = ""
    if problem["file"]:
        where = f" file={_property(problem['file'])},line={problem['line']}"
        if problem.get("column"):
            where += f",col={problem['column']}"
    return f"::{problem['level']}{where}::{_data(problem['message'])}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
