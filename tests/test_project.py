"""The project is in order: system checks clean and no model change without its migration."""

import io

import pytest
from django.core.management import call_command


def test_system_checks_are_clean():
    out = io.StringIO()
    call_command("check", "--fail-level", "WARNING", stdout=out)
    assert "no issues" in out.getvalue()


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit as exc:  # --check exits non-zero when a migration is missing
        pytest.fail(f"missing migrations:\n{out.getvalue()} (exit {exc.code})")
    assert "No changes detected" in out.getvalue()
