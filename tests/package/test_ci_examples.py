"""The CI examples under docs/ci/ work as written: each passes its format's linter, and
their shell steps, run here (N shard processes on this machine, then the merge), give what
one unsharded run gives.

Run here, not on the CI systems: steps that install simlab (this venv's simlab is on PATH
instead) and the CI's own actions (checkout, artifacts: each shard's reports/ is copied into
the merge's folder, as download-artifact does) are skipped; the engine is this machine's,
where the GitLab job has a Docker-in-Docker service and the Kubernetes pod a sidecar.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import DATA, ROOT

CI = ROOT / "docs" / "ci"
GITHUB, GITLAB, KUBERNETES = CI / "github-actions.yml", CI / "gitlab-ci.yml", CI / "kubernetes-job.yaml"
BIN = Path(sys.executable).parent
SHARD_LINE = 'simlab validate scenarios/ --shard "$SHARD/$SHARDS" --json "reports/shard-$SHARD.json"'
MERGE_LINE = "simlab merge reports/shard-*.json --junit simlab.xml --json simlab.json --html simlab-html"
LOCAL_ENGINE = "unix:///var/run/docker.sock"
LAB_PREFIX = "sh-"  # the scenarios of tests/data/shards are named so; other tests' labs share the engine


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is missing: install the test extras (pip install -e '.[test]', or make venv)")
    return str(path)


def github() -> dict:
    return yaml.safe_load(GITHUB.read_text())


def gitlab() -> dict:
    return yaml.safe_load(GITLAB.read_text())


def kubernetes_docs() -> list[dict]:
    return list(yaml.safe_load_all(KUBERNETES.read_text()))


def pod_script() -> tuple[str, dict[str, str]]:
    """The shard pod's shell script and its environment, as the manifest gives them."""
    container = kubernetes_docs()[1]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["/bin/sh", "-c"]
    return container["args"][0], {e["name"]: e["value"] for e in container["env"]}


# ---- linters and structure (no engine) ----

def lint(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}  # actionlint finds shellcheck there
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def test_the_github_workflow_passes_actionlint_and_shellcheck(tmp_path):
    tool("shellcheck")
    done = lint([tool("actionlint"), str(GITHUB)])
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"  # the linter is alive: a mistake in the same file is found
    broken.write_text(GITHUB.read_text().replace("needs: shard", "needs: shards").replace(
        'mkdir -p reports\n', 'mkdir -p reports $UNQUOTED\n', 1))
    done = lint([tool("actionlint"), str(broken)])
    assert done.returncode == 1 and "job-needs" in done.stdout and "SC2086" in done.stdout, done.stdout


def test_the_gitlab_file_passes_gitlabs_schema(tmp_path):
    """check-jsonschema carries GitLab's CI schema: checked offline."""
    argv = [tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci"]
    done = lint([*argv, str(GITLAB)])
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(GITLAB.read_text().replace("parallel: 3", "parallel: three"))
    assert lint([*argv, str(broken)]).returncode == 1


def test_every_example_runs_one_shard_command_and_one_merge():
    shard_job = github()["jobs"]["shard"]
    assert shard_job["env"]["SHARDS"] == len(shard_job["strategy"]["matrix"]["shard"])
    github_runs = [step.get("run", "") for job in github()["jobs"].values() for step in job["steps"]]
    assert any(SHARD_LINE in run for run in github_runs) and MERGE_LINE in github_runs
    assert github()["jobs"]["merge"]["needs"] == "shard" and github()["jobs"]["merge"]["if"] == "always()"
    lab = gitlab()
    assert SHARD_LINE in lab["simlab-shard"]["script"] and lab["simlab-merge"]["script"] == [MERGE_LINE]
    assert lab["simlab-merge"]["artifacts"]["reports"]["junit"] == "simlab.xml"
    assert lab["simlab-merge"]["needs"][0]["job"] == "simlab-shard"
    script, env = pod_script()
    assert SHARD_LINE in script.splitlines()
    assert int(env["SHARDS"]) == kubernetes_docs()[1]["spec"]["completions"]


def test_the_kubernetes_manifest_is_what_the_kubernetes_models_know():
    """Every key known to the API's models (a misspelt one would be dropped on the way back)."""
    from kubernetes.client import ApiClient

    client = ApiClient()
    pvc, job = kubernetes_docs()
    for document, model in ((pvc, "V1PersistentVolumeClaim"), (job, "V1Job")):
        parsed = client._ApiClient__deserialize(document, model)  # what `kubectl apply` would send, typed
        assert client.sanitize_for_serialization(parsed) == document, model
    parsed = client._ApiClient__deserialize(job, "V1Job")
    assert parsed.spec.completion_mode == "Indexed"
    sidecar = parsed.spec.template.spec.init_containers[0]
    assert sidecar.restart_policy == "Always" and sidecar.security_context.privileged
    volumes = {v.name: v for v in parsed.spec.template.spec.volumes}
    assert volumes["reports"].persistent_volume_claim.claim_name == pvc["metadata"]["name"]


# ---- the shell steps, run here (engine) ----

@pytest.fixture
def no_lab_left(engine):
    """No lab of these scenarios is left behind (others' labs on the shared engine come and go)."""
    yield
    left = [c.name for c in engine.containers({"simlab.lab": None}) if c.labels["simlab.lab"].startswith(LAB_PREFIX)]
    assert left == [], f"containers left behind: {left}"


def workspace(root: Path, name: str) -> Path:
    """A checkout as each CI job has one: scenarios/ at its top."""
    folder = root / name
    shutil.copytree(DATA / "shards", folder / "scenarios")
    return folder


def start(script: str, cwd: Path, env: dict[str, str], shell: list[str]) -> subprocess.Popen:
    full = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **env}
    return subprocess.Popen([*shell, script], cwd=cwd, env=full, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        out, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, out


BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]  # how GitHub and GitLab run a script


def run_shards(root: Path, scripts: list[tuple[str, dict[str, str]]], shell: list[str]) -> Path:
    """Each shard in its own folder, all at once; their reports/ copied into a merge folder."""
    procs = [start(script, workspace(root, f"shard{i}"), env, shell) for i, (script, env) in enumerate(scripts)]
    outcomes = [finish(p) for p in procs]
    merge = workspace(root, "merge")
    for i, (code, out) in enumerate(outcomes):
        assert code in (0, 1, 2), out  # a verdict, not a crash
        reports = root / f"shard{i}" / "reports"
        assert reports.is_dir(), out
        shutil.copytree(reports, merge / "reports", dirs_exist_ok=True)
    return merge


def github_steps(job: dict, env: dict[str, str]) -> str:
    """A job's run steps as one script, ${{ }} expressions of the env filled in; no step may use one."""
    runs = [step["run"] for step in job["steps"] if "run" in step and step.get("name") != "Install simlab"]
    assert not any("${{" in run for run in runs), "keep expressions out of run: (use env)"
    return "\n".join(runs)


def github_env(job: dict, shard: int) -> dict[str, str]:
    return {key: re.sub(r"\$\{\{\s*matrix\.shard\s*\}\}", str(shard), str(value))
            for key, value in job.get("env", {}).items()}


def normalized_results(path: Path) -> list[dict]:
    """The results without what differs from run to run (timings, lab names, engines) and the
    lab's recorded states (the whole run records them for its --html, the shards do not)."""
    data = json.loads(path.read_text())
    results = []
    for result in data["results"]:
        result = {k: v for k, v in result.items() if k not in ("duration", "lab", "engine", "lab_state")}
        result["steps"] = [{k: v for k, v in s.items() if k not in ("duration", "output", "state", "changes")}
                           for s in result["steps"]]
        results.append(result)
    return results


def normalized_junit(path: Path) -> str:
    root = ET.parse(path).getroot()
    for element in root.iter():
        for key in ("time", "hostname"):
            element.attrib.pop(key, None)
        if element.tag in ("failure", "error"):
            element.text = ""
    return ET.tostring(root, encoding="unicode")


@pytest.fixture(scope="module")
def whole(engine, tmp_path_factory) -> tuple[int, Path]:
    """One unsharded run of the same scenarios: what every merge must equal."""
    folder = workspace(tmp_path_factory.mktemp("whole"), "checkout")
    whole_run = "simlab validate scenarios/ --json whole.json --junit whole.xml --html whole-html"
    code, out = finish(start(whole_run, folder, {}, BASH))
    assert (folder / "whole.json").exists(), out
    return code, folder


def assert_equal_to_whole(merge: Path, merge_code: int, whole: tuple[int, Path]) -> None:
    code, folder = whole
    assert merge_code == code
    assert json.loads((merge / "simlab.json").read_text())["merged"] == ["1/3", "2/3", "3/3"]
    assert normalized_results(merge / "simlab.json") == normalized_results(folder / "whole.json")
    assert normalized_junit(merge / "simlab.xml") == normalized_junit(folder / "whole.xml")
    index = [re.sub(r"\d+\.\d+s", "", (f / "index.html").read_text())
             for f in (merge / "simlab-html", folder / "whole-html")]
    assert index[0] == index[1]


@pytest.mark.engine
def test_the_github_workflow_run_here_equals_one_run(whole, tmp_path, no_lab_left):
    jobs = github()["jobs"]
    shards = jobs["shard"]["strategy"]["matrix"]["shard"]
    merge = run_shards(tmp_path, [(github_steps(jobs["shard"], {}), github_env(jobs["shard"], s)) for s in shards],
                       BASH)
    code, out = finish(start(github_steps(jobs["merge"], {}), merge, {}, BASH))
    assert "merged 3 report(s)" in out, out
    assert_equal_to_whole(merge, code, whole)


@pytest.mark.engine
def test_the_gitlab_jobs_run_here_equal_one_run(whole, tmp_path, no_lab_left):
    lab = gitlab()
    total = lab["simlab-shard"]["parallel"]
    local = {"DOCKER_HOST": LOCAL_ENGINE}  # instead of the job's Docker-in-Docker service
    script = "\n".join(lab["simlab-shard"]["script"])
    merge = run_shards(tmp_path, [(script, {"CI_NODE_INDEX": str(i), "CI_NODE_TOTAL": str(total), **local})
                                  for i in range(1, total + 1)], BASH)
    code, out = finish(start("\n".join(lab["simlab-merge"]["script"]), merge, {}, BASH))
    assert "merged 3 report(s)" in out, out
    assert_equal_to_whole(merge, code, whole)


@pytest.mark.engine
def test_the_kubernetes_pods_run_here_equal_one_run(whole, tmp_path, no_lab_left):
    """The pod's own script, with each JOB_COMPLETION_INDEX; the engine pool (SIMLAB_ENGINES)
    is this machine's engine with one slot instead of the sidecar: shards and pools combine."""
    script, env = pod_script()
    env = {**env, "DOCKER_HOST": LOCAL_ENGINE, "SIMLAB_ENGINES": f"{LOCAL_ENGINE}=1"}
    completions = kubernetes_docs()[1]["spec"]["completions"]
    merge = run_shards(tmp_path, [(script, {**env, "JOB_COMPLETION_INDEX": str(i)}) for i in range(completions)],
                       ["/bin/sh", "-c"])
    code, out = finish(start(MERGE_LINE, merge, {}, BASH))  # docs/kubernetes.md: the same merge
    assert "merged 3 report(s)" in out, out
    assert_equal_to_whole(merge, code, whole)
    ran = [r for r in json.loads((merge / "simlab.json").read_text())["results"] if r["lab"]]
    assert ran and {r["engine"] for r in ran} == {LOCAL_ENGINE}
