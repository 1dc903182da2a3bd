"""simlab as a package: the wheel installed outside the checkout runs the shipped
scenarios, and `simlab image prune` removes old fabric helper images."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

from conftest import ROOT, simlab


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
         ) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


WHERE = """
import io, tarfile
from simlab.labs import fabric, images as image
from simlab.model import scenario
print(scenario.shipped_scenarios_dir())
print(image.images_dir())
names = tarfile.open(fileobj=io.BytesIO(fabric._helper_context())).getnames()
print(sorted(n for n in names if n in ("Dockerfile", "simlab/fabric_agent.py", "simlab/pyroute2/__init__.py")))
"""


def test_the_wheel_installed_elsewhere_runs_a_shipped_scenario(engine, tmp_path, lab_name, no_leftovers):
    started = time.monotonic()
    source = tmp_path / "source"  # a copy: building writes egg-info, which must not land in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "*.egg-info", "build", "__pycache__"))
    _run([sys.executable, "-m", "build", "--outdir", str(tmp_path / "dist"), str(source)], cwd=tmp_path)
    built = time.monotonic()
    wheel = next((tmp_path / "dist").glob("simlab-*.whl"))
    assert next((tmp_path / "dist").glob("simlab-*.tar.gz"))
    venv.create(tmp_path / "venv")  # without pip of its own: this pip installs into it, twice as fast
    bin_dir = tmp_path / "venv" / "bin"
    _run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q", str(wheel)],
         cwd=tmp_path)  # its dependencies too, from the package index
    installed = time.monotonic()
    # Nothing of the checkout may leak in: no PYTHONPATH, a cwd elsewhere.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SIMLAB_SCENARIOS", "SIMLAB_IMAGES")}
    # The shipped folders and the fabric helper's build context all come from the installed package.
    where = _run([str(bin_dir / "python"), "-c", WHERE], cwd=tmp_path, env=env).stdout.splitlines()
    site = str(tmp_path / "venv")
    assert where[0].startswith(site) and where[0].endswith("simlab/scenarios"), where
    assert where[1].startswith(site) and (Path(where[1]) / "ubuntu_with_basic_net" / "Dockerfile").is_file(), where
    assert where[2] == "['Dockerfile', 'simlab/fabric_agent.py', 'simlab/pyroute2/__init__.py']", where
    version = _run([str(bin_dir / "simlab"), "--version"], cwd=tmp_path, env=env)
    assert version.stdout.startswith("simlab 0.")
    listed = _run([str(bin_dir / "simlab"), "list"], cwd=tmp_path, env=env)
    assert "gateway-nat" in listed.stdout and "tutorial-as-written" in listed.stdout
    ran = _run([str(bin_dir / "simlab"), "run", "gateway-nat", "--name", lab_name], cwd=tmp_path, env=env)
    assert "gateway-nat: PASSED" in ran.stdout
    print(f"wheel install test: build {built - started:.1f}s, venv + install {installed - built:.1f}s, "
          f"list + run {time.monotonic() - installed:.1f}s")


def test_image_prune_removes_old_helper_images_and_keeps_the_current_one(engine):
    from simlab.labs.fabric import helper_image

    current = helper_image(engine)
    old = "simlab-fabric:0123456789ab"
    engine._client.api.tag(current, "simlab-fabric", "0123456789ab")
    done = simlab("image", "prune", check=True)
    assert f"removed {old} (only the tag" in done.stdout
    assert "freed" in done.stdout
    assert engine.image_tags("simlab-fabric") == [current]
    again = simlab("image", "prune", check=True)
    assert again.stdout.strip() == "no old helper images"


def test_the_docs_show_the_examples_verbatim():
    """The Python blocks of docs/python.md that name a file in examples/ are that file, which
    the API and plugin tests run."""
    readme = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    shown = {block.splitlines()[0].split(":")[0].lstrip("# "): block for block in blocks
             if block.startswith("# examples/")}
    assert set(shown) == {"examples/api_pair.py", "examples/test_gateway_nat.py"}
    for path, block in shown.items():
        assert block == (ROOT / path).read_text(), f"docs/python.md's copy of {path} differs from the file"


def test_shell_completion_offers_the_shipped_scenarios():
    env = {**os.environ, "_SIMLAB_COMPLETE": "complete_bash", "COMP_WORDS": "simlab run gat", "COMP_CWORD": "2"}
    done = subprocess.run([sys.executable, "-c", "from simlab.cli import app; app(prog_name='simlab')"],
                          env=env, capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.split() == ["gateway-nat"]


def test_version():
    from simlab import __version__

    assert simlab("--version", check=True).stdout == f"simlab {__version__}\n"


def test_every_subpackage_ships_in_the_wheel():
    """A subpackage missing from pyproject's list installs fine in a checkout and breaks every
    installed wheel (it happened with simlab.checks): the list must name each one."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "simlab").rglob("__init__.py")}
    assert found - listed == set()
