"""``run``: shell commands, run in order; each must succeed, or the last must fail."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from simlab.steps.base import CommandRun, Kind, Step, Verdict
from simlab.steps.fields import Fields, misses, squeeze, transcript

EXPECT = ("success", "failure")
TEXTS = ("output", "match", "not_output")
# A step's commands travel to its host inside one exec argument, which Linux caps at 128 KiB.
MAX_STEP_SCRIPT = 48 * 1024
NOT_RUN = {126: "not executable", 127: "command not found"}
NO_NETNS = re.compile(r'Cannot open network namespace "([^"]*)"')
KERNEL_LACKS = re.compile(r"Unknown device type|Unknown qdisc|Specified qdisc (?:kind is unknown|not found)")
STRINGS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


@dataclass
class RunStep(Step):
    """Shell commands, run in order; each must succeed, or the last must fail."""

    KIND = "run"
    commands: list[str] = field(default_factory=list)
    expect: str = "success"
    output: str | None = None  # text the last command prints (whitespace-robust)
    match: str | None = None  # a regular expression its output matches
    not_output: str | None = None  # text it must not print
    exit: int | None = None  # the exit code the last command must end with (implies expect: failure)


def is_run(step: Step) -> TypeGuard[RunStep]:
    """Whether ``step`` is a run step (by its kind, as the registry dispatches)."""
    return step.KIND == RunStep.KIND


class Run(Kind):
    key = "run"
    step = RunStep
    summary = "shell commands, run in order"
    schema = {**STRINGS, "description": "Shell command(s), run in order."}
    options = {
        "expect": {"enum": list(EXPECT), "description": "success: every command exits 0; failure: the last fails."},
        "output": {"type": "string", "description": "Text the (last) command must print (whitespace-robust)."},
        "match": {"type": "string", "maxLength": 4096,
                  "description": "A regular expression (RE2 syntax) the (last) command's output matches."},
        "not_output": {"type": "string", "description": "Text the (last) command must not print."},
        "exit": {"type": "integer", "minimum": 1, "maximum": 255,
                 "description": "The exit code the last command must end with (a failure)."},
    }
    evidence = True
    stops_story = True
    changes_lab = True

    def parse(self, fields: Fields, common: dict[str, Any]) -> RunStep | None:
        raw = fields.get("run")
        commands = raw if isinstance(raw, list) else [raw]
        if not commands or not all(isinstance(c, str) and c.strip() for c in commands):
            fields.problem("run", "run must be a command or a list of commands")
            return None
        keys = [("run", i) if isinstance(raw, list) else "run" for i in range(len(commands))]
        if not all([fields.command(c, key) for c, key in zip(commands, keys)]):
            return None
        expect = fields.expect("run", EXPECT)
        exit_code = fields.number("exit", None, (1, 255), "exit is the code the last command ends with, 1 to 255")
        if exit_code is not None and fields.get("expect", "failure") != "failure":
            fields.problem("exit", "exit names how the last command fails: it goes with expect: failure (or none)")
        if exit_code is not None:
            expect = "failure"
        texts = {key: _text(fields, key) for key in TEXTS}
        if texts["match"] is not None:
            fields.pattern("match")
        if texts["output"] is not None:
            texts["output"] = texts["output"].rstrip("\n")  # a YAML block ends in a newline; captured output not
        script = sum(len(shlex.quote(text).encode("utf-8", "surrogatepass"))
                     for text in [*commands, texts["output"] or ""])
        if script > MAX_STEP_SCRIPT:
            fields.problem("run", f"this step's commands and output take {script} bytes as a shell script; "
                                  f"at most {MAX_STEP_SCRIPT} per step")
            return None
        return RunStep(**common, commands=[c.strip() for c in commands], expect=expect, exit=exit_code,
                       output=texts["output"], match=texts["match"], not_output=texts["not_output"])

    def commands(self, step: RunStep) -> list[str]:
        return list(step.commands)

    def expected(self, step: RunStep) -> str:
        expected = step.expect + (f" (exit {step.exit})" if step.exit is not None else "")
        if step.output is not None:
            expected += f", printing {step.output!r}"
        if step.match is not None:
            expected += f", matching {step.match!r}"
        if step.not_output is not None:
            expected += f", not printing {step.not_output!r}"
        return expected

    def judge(self, step: RunStep, runs: list[CommandRun]) -> Verdict:
        last = runs[-1]
        ran_all = len(runs) == len(step.commands)
        not_run = _not_run(step, last)
        if not_run:
            return Verdict(f"not run: {not_run}", False, transcript(runs))
        got = "success" if last.exit_code == 0 else f"failure (exit {last.exit_code})"
        passed = ran_all and (last.exit_code == 0) == (step.expect == "success")
        if step.exit is not None and last.exit_code != step.exit:
            passed = False
        for miss in misses(last.output, step.output, step.match):
            got, passed = f"{got}, {miss}", False
        if step.not_output is not None and squeeze(step.not_output) in squeeze(last.output):
            got += f", printing {step.not_output!r}"
            passed = False
        elif step.not_output is not None and last.cut:  # it may be in the part that was cut
            got += f", too much output to tell it does not print {step.not_output!r}"
            passed = False
        if not ran_all:
            got += f" at command {len(runs)} of {len(step.commands)}"
        verdict = Verdict(got, passed, transcript(runs))
        if not passed and not step.hint and KERNEL_LACKS.search(last.output):
            verdict.details["hint"] = ("the engine's kernel may have been built without this link kind or qdisc; "
                                       "`simlab engines` says which ones it lacks")
        return verdict

    def runs_alone(self, step: RunStep) -> bool:
        return step.match is not None or step.not_output is not None  # the runner judges these

    def guard(self, step: RunStep, last: bool) -> str:
        """Stop where the judge stops the story: a command that did not go as expected, did not
        run (126, 127, a missing namespace) or was stopped by the step's time limit."""
        if not (last and step.expect == "failure"):
            stop = '[ "$rc" -eq 0 ] || exit 0'
        elif step.exit is not None:
            stop = f'[ "$rc" -eq {step.exit} ] || exit 0'
        else:
            stop = '[ "$rc" -ne 0 ] || exit 0; [ "$timed_out" = 0 ] || exit 0'
            if step.output is None and step.match is None:
                stop += ('; case $rc in 126|127) exit 0 ;; esac; '
                         '! grep -qs "Cannot open network namespace" "$out" || exit 0')
        if last and step.output is not None:  # whitespace-robust, as the judge reads it (squeeze)
            stop += (f'; case "$(kept | tr -s \'[:space:]\' \' \')" in '
                     f'*{shlex.quote(" ".join(step.output.split()))}*) ;; *) exit 0 ;; esac')
        return stop


def _not_run(step: RunStep, last: CommandRun) -> str:
    """Why the last command never ran as written (a typo, a file that is not a program, a
    namespace that does not exist), unless the step expects just that (exit, output, match)."""
    if step.exit == last.exit_code or step.output is not None or step.match is not None or last.exit_code == 0:
        return ""
    if last.exit_code in NOT_RUN:
        return f"`{last.command}` ({NOT_RUN[last.exit_code]}, exit {last.exit_code})"
    missing = NO_NETNS.search(last.output)
    if missing:
        return f"`{last.command}`: there is no namespace {missing.group(1)!r} on {step.host}"
    return ""


def _text(fields: Fields, key: str) -> str | None:
    text = fields.get(key)
    if text is not None and not isinstance(text, str):
        fields.problem(key, f"{key} must be text")
        return None
    if text is not None and "\0" in text:
        fields.problem(key, f"{key} cannot contain a NUL character")
    return text
