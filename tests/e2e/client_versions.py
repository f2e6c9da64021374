"""waldur-api-client versions the end-to-end tests drive. The project's .venv pins the one the site agent
pins (8.1.2); every other version is installed once, without dependencies, into
.venv-clients/waldur-api-client-<version>/ and put first on the PYTHONPATH of the child process that runs
the agent or the client, so both versions are tested in one run. The install is cached (a stamp file)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

INSTALLED = version("waldur-api-client")
API_CLIENT_VERSIONS = ("8.1.2", "8.1.3")  # 8.1.2: what waldur-site-agent 1.0.7 pins; 8.1.3: the newest
CACHE = Path(__file__).resolve().parents[2] / ".venv-clients"


def client_env(client_version: str) -> dict[str, str]:
    """Environment for a child process that must import waldur_api_client `client_version`."""
    if client_version == INSTALLED:
        return {}
    target = CACHE / f"waldur-api-client-{client_version}"
    stamp = target / ".installed"
    if not stamp.exists():
        process = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--upgrade", "--target", str(target), f"waldur-api-client=={client_version}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if process.returncode != 0:
            pytest.skip(
                f"cannot install waldur-api-client=={client_version} (no package index?): {process.stderr[-500:]}"
            )
        stamp.touch()
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH", "")]))}


def imported_version(env: dict[str, str]) -> str:
    """The waldur_api_client version a child process with `env` really imports."""
    probe = "from importlib.metadata import version; print(version('waldur-api-client'))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ, **env}, timeout=60
    )
    return result.stdout.strip()
