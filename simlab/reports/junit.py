"""JUnit XML, as Jenkins, GitLab and GitHub test reporters read it.

One <testsuite> per scenario, one <testcase> per step. A step whose
expectation did not hold is a <failure> (expected vs. got, and the command
output); a skipped step is <skipped>; a scenario that could not run (bad
file, engine error) or was cut short is a single <error> test case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from simlab.results import ScenarioResult


def junit_xml(results: list[ScenarioResult], name: str = "simlab validate") -> str:
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    time = 0.0
    for result in results:
        suite = _suite(result)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        time += result.duration
    root.attrib.update({k: str(v) for k, v in totals.items()}, time=f"{time:.3f}")
    _make_xml_safe(root)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# What XML 1.0 cannot hold at all, not even escaped: most control characters (a
# command's colours are ESC sequences), lone surrogates, U+FFFE and U+FFFF.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with each character XML 1.0 forbids written as \\xNN (or \\uNNNN), so it stays visible."""
    return NOT_XML.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def _make_xml_safe(root: ET.Element) -> None:
    for element in root.iter():
        if element.text:
            element.text = xml_safe(element.text)
        for key, value in element.attrib.items():
            element.attrib[key] = xml_safe(value)


def _suite(result: ScenarioResult) -> ET.Element:
    suite = ET.Element("testsuite", name=result.scenario, file=result.file, time=f"{result.duration:.3f}")
    if result.engine:
        suite.set("hostname", result.engine)
    if result.retries:
        properties = ET.SubElement(suite, "properties")
        for retry in result.retries:
            ET.SubElement(properties, "property", name="retry", value=retry)
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
        error = ET.SubElement(case, "error", message=problem.splitlines()[0],
                              type="error" if result.error else "stopped")
        error.text = problem
    cases = suite.findall("testcase")
    suite.attrib.update(tests=str(len(cases)), failures=str(len(suite.findall("testcase/failure"))),
                        errors=str(len(suite.findall("testcase/error"))),
                        skipped=str(len(suite.findall("testcase/skipped"))))
    return suite
