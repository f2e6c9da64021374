"""Production settings from the environment (marketplace/security.py, README "Production"): `check --deploy`
is clean with the README's variables, and the server refuses to start on an unfit key or without hosts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from marketplace import security

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "k3y-" + "a1B2c3D4e5" * 6


def readme_production_env() -> dict[str, str]:
    """The variables of the README's production environment block (```env … ```)."""
    blocks = re.findall(r"```env\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    assert len(blocks) == 1, "README.md must have exactly one ```env block: the production variables"
    pairs = (line.split("=", 1) for line in blocks[0].splitlines() if line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """manage.py in a subprocess with only `env` (plus PATH): nothing of the test run's embedded mode."""
    base = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_check_deploy_with_the_readme_production_variables_has_no_warnings():
    env = {**readme_production_env(), "SECRET_KEY": GOOD_KEY}

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_readme_placeholder_key_refuses_to_start_with_a_clear_message():
    env = readme_production_env()
    assert env["SECRET_KEY"] == "change-me"  # the operator must replace it; as printed, it cannot run

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is a known placeholder" in result.stderr
    assert "secrets.token_urlsafe(50)" in result.stderr


def test_production_without_allowed_hosts_refuses_to_start():
    env = {**readme_production_env(), "SECRET_KEY": GOOD_KEY}
    del env["ALLOWED_HOSTS"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: ALLOWED_HOSTS is not set" in result.stderr


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "not set"),
        ("change-me", "known placeholder"),
        ("insecure-embedded-default-change-me", "known placeholder"),
        ("django-insecure-" + "x1y2z3" * 10, "known placeholder"),
        ("a" * 60, "too short"),  # long enough, but one character
        ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM", "too short"),  # 49 characters
    ],
)
def test_an_unfit_secret_key_is_refused_when_debug_is_off(tmp_path, key, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        security.secret_key(key, relaxed=False, key_file=tmp_path / "key")
    assert not (tmp_path / "key").exists()


def test_a_long_random_secret_key_is_taken_as_given(tmp_path):
    assert security.secret_key(GOOD_KEY, relaxed=False, key_file=tmp_path / "key") == GOOD_KEY


def test_the_embedded_mode_generates_a_key_once_and_keeps_it_private(tmp_path):
    key_file = tmp_path / "key"

    first = security.secret_key("", relaxed=True, key_file=key_file)
    second = security.secret_key("", relaxed=True, key_file=key_file)

    assert first == second and security.secret_key_problem(first) is None
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert security.secret_key("", relaxed=True, key_file=tmp_path / "other") != first


def test_hosts_default_to_any_only_in_the_embedded_mode():
    assert security.allowed_hosts([], relaxed=True) == ["*"]
    assert security.allowed_hosts(["a.example"], relaxed=False) == ["a.example"]
    with pytest.raises(ImproperlyConfigured):
        security.allowed_hosts([], relaxed=False)


def test_the_proxy_ssl_header_is_a_header_and_its_value():
    assert security.proxy_ssl_header(["HTTP_X_FORWARDED_PROTO", "https"]) == ("HTTP_X_FORWARDED_PROTO", "https")
    assert security.proxy_ssl_header([]) is None
    with pytest.raises(ImproperlyConfigured, match="HTTP_X_FORWARDED_PROTO,https"):
        security.proxy_ssl_header(["X-Forwarded-Proto: https"])


def test_docker_compose_requires_a_secret_key_and_allowed_hosts():
    compose = (ROOT / "docker-compose.yml").read_text()

    assert re.search(r"SECRET_KEY: \$\{SECRET_KEY:\?", compose)
    assert re.search(r"ALLOWED_HOSTS: \$\{ALLOWED_HOSTS:\?", compose)
    assert "change-me" not in compose
