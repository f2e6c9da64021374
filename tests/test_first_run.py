"""A light, reproducible first run: `bin/serve` installs only what serving needs, from a lock; `bin/test` and
the image install from theirs; and the locks agree with pyproject.toml's pins (bin/lock regenerates them)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVE_LOCK = ROOT / "requirements" / "serve.lock"
TEST_LOCK = ROOT / "requirements" / "test.lock"
TEST_ONLY = ("pytest", "pytest-django", "schemathesis", "hypothesis", "factory-boy", "ruff", "playwright",
             "waldur-api-client", "waldur-site-agent", "waldur-site-agent-slurm", "slurm-emulator")  # fmt: skip
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines) -> dict[str, str]:
    """name → version of every exact pin among requirement lines (extras and markers ignored)."""
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        if match:
            found[normalized(match[1])] = match[2]
    return found


def lock(path: Path) -> dict[str, str]:
    return pins(path.read_text().splitlines())


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_serve_lock_holds_no_test_tools():
    serve = lock(SERVE_LOCK)

    assert "django" in serve and "gunicorn" in serve
    assert [name for name in TEST_ONLY if name in serve] == []


def test_bin_serve_installs_from_the_serve_lock_and_bin_test_from_the_test_lock():
    serve, test, setup = ((ROOT / "bin" / name).read_text() for name in ("serve", "test", "_setup.sh"))

    assert re.search(r"^setup_venv serve$", serve, flags=re.MULTILINE)
    assert re.search(r"^setup_venv test$", test, flags=re.MULTILINE)
    assert "lock=requirements/$mode.lock" in setup and '-r "$lock"' in setup
    # the project itself without resolving anything again; test extras never come from pyproject
    assert "--no-deps" in setup and "[test]" not in setup + serve


def test_the_image_installs_from_the_serve_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "pip install -r requirements/serve.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile


@pytest.mark.parametrize(
    ("lock_path", "groups"),
    [(SERVE_LOCK, ("dependencies",)), (TEST_LOCK, ("dependencies", "test"))],
    ids=["serve", "test"],
)
def test_the_locks_agree_with_the_pins_in_pyproject(lock_path, groups):
    meta = project()
    wanted = pins(meta["dependencies"])
    if "test" in groups:
        wanted |= pins(meta["optional-dependencies"]["test"])
    locked = lock(lock_path)

    disagreements = {
        name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version
    }

    assert disagreements == {}, f"pyproject.toml pin vs {lock_path.name}: run bin/lock"


def test_the_serve_and_test_locks_pin_the_same_versions_of_what_they_share():
    serve, test = lock(SERVE_LOCK), lock(TEST_LOCK)

    assert {name: (v, test.get(name)) for name, v in serve.items() if test.get(name) != v} == {}


def test_the_lock_tool_is_pinned():
    assert re.search(r"^UV_VERSION=\d+\.\d+\.\d+$", (ROOT / "bin" / "lock").read_text(), flags=re.MULTILINE)
