# examples/api_pair.py: a lab built in code, driven from Python.
import simlab

pair = (simlab.Builder("pair", description="two hosts on one wire")
        .host("a", interfaces={"eth0": "10.0.0.1/24"})
        .host("b", interfaces={"eth0": "10.0.0.2/24"})
        .link("a:eth0", "b:eth0"))

with simlab.lab(pair) as lab:  # removed on leaving the block, also on an error or Ctrl-C
    print(lab.exec("a", "ip -br addr show eth0").output)
    outcome = lab.ping("a", "10.0.0.2")  # the runner's StepResult
    assert outcome.passed, f"expected {outcome.expected}, got {outcome.got}:\n{outcome.output}"
    silent = lab.ping("a", "10.0.0.9", expect="no-reply")
    print(f"10.0.0.2: {outcome.got}; 10.0.0.9: {silent.got}")

# A scenario: steps checked in order, as `simlab run` does.
pair.run("a new namespace", "a", "ip netns add red").ping("red has no route", "a", "10.0.0.2",
                                                           netns="red", expect="unreachable")
result = simlab.run(pair)
print(f"{result.scenario}: {result.verdict}, {len(result.steps)} steps")
assert result.passed
