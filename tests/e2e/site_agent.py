"""Helpers to run the real waldur-site-agent (as a separate process) against the live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import pytest

CYCLE = Path(__file__).with_name("agent_cycle.py")


def require_backend(name: str) -> None:
    names = {e.name for e in entry_points(group="waldur_site_agent.backends")}
    if name not in names:
        pytest.fail(f"waldur-site-agent backend {name!r} is not installed (bin/test installs tests/agent_plugin)")


@dataclass
class CycleResult:
    returncode: int
    errors: list[str]
    warnings: list[str]
    output: str


def agent_config(*, api_url: str, token: str, offering_uuid: str, backend: str, settings: dict | None = None) -> dict:
    return {
        "timezone": "UTC",
        "log_level": "INFO",
        "offerings": [
            {
                "name": f"offering {offering_uuid[:8]}",
                "waldur_api_url": api_url,
                "waldur_api_token": token,
                "waldur_offering_uuid": offering_uuid,
                "stomp_enabled": False,
                "backend_type": backend.split("-")[0],
                "order_processing_backend": backend,
                "membership_sync_backend": backend,
                "reporting_backend": backend,
                "backend_settings": settings or {},
                "backend_components": {
                    "cpu": {
                        "limit": 10,
                        "measured_unit": "k-Hours",
                        "unit_factor": 1,
                        "accounting_type": "limit",
                        "label": "CPU",
                    }
                },
            }
        ],
    }


def run_cycle(config: dict, workdir: Path, env: dict | None = None, timeout: int = 180) -> CycleResult:
    """One agent cycle in a child process; JSON is valid YAML, so the config is written as JSON."""
    config_path = workdir / "agent-config.yaml"
    config_path.write_text(json.dumps(config))
    summary = workdir / "summary.json"
    process = subprocess.run(
        [sys.executable, str(CYCLE), str(config_path), str(summary), str(workdir / "heartbeat")],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=workdir,
    )
    records = (
        json.loads(summary.read_text()) if summary.exists() else {"errors": ["no summary written"], "warnings": []}
    )
    return CycleResult(process.returncode, records["errors"], records["warnings"], process.stdout + process.stderr)
