"""JUnit XML, as Jenkins, GitLab and GitHub test reporters read it.

One <testsuite> per scenario, one <testcase> per step. A step whose
expectation did not hold is a <failure> (expected vs. got, and the command
output); a skipped step is <skipped>; a scenario that could not run (bad
file, engine error) or was cut short is a single <error> test case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from simlab.results import ScenarioResult


def junit_xml(results: list[ScenarioResult]) -> str:
    root = ET.Element("testsuites", name="simlab validate")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    time = 0.0
    for result in results:
        suite = _suite(result)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        time += result.duration
    root.attrib.update({k: str(v) for k, v in totals.items()}, time=f"{time:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(result: ScenarioResult) -> ET.Element:
    suite = ET.Element("testsuite", name=result.scenario, file=result.file, time=f"{result.duration:.3f}")
    for step in result.steps:
        case = ET.SubElement(suite, "testcase", classname=result.scenario, name=f"{step.index:02d} {step.title}",
                             file=result.file, line=str(step.line), time=f"{step.duration:.3f}")
        if step.skipped:
            ET.SubElement(case, "skipped", message="an earlier step did not go as expected")
        elif not step.passed:
            failure = ET.SubElement(case, "failure", message=f"expected {step.expected}, got {step.got}",
                                    type=step.kind)
            failure.text = "\n".join([*(f"{step.where} $ {c}" for c in (step.shown or step.commands)), step.output,
                                       *([f"hint: {step.hint}"] if step.hint else [])])
    problem = result.error or result.stopped
    if problem:
        case = ET.SubElement(suite, "testcase", classname=result.scenario, name="lab", file=result.file,
                             time=f"{result.duration:.3f}")
        error = ET.SubElement(case, "error", message=problem.splitlines()[0], type="error" if result.error else "stopped")
        error.text = problem
    cases = suite.findall("testcase")
    suite.attrib.update(tests=str(len(cases)), failures=str(len(suite.findall("testcase/failure"))),
                        errors=str(len(suite.findall("testcase/error"))),
                        skipped=str(len(suite.findall("testcase/skipped"))))
    return suite
