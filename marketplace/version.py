"""/api/version/: the server's version, as Waldur answers it (anonymous callers welcome)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

DISTRIBUTION = "marketplace-orders"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@cache
def project_version() -> str:
    """The installed distribution's version; from pyproject.toml when running from a checkout."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        pass
    try:
        return str(tomllib.loads(PYPROJECT.read_text())["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


class VersionView(APIView):
    # no authentication: a stale token must not turn a version probe into a 401
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        auth=[],
        responses={200: inline_serializer(name="Version", fields={"version": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        """The running release's version (`{"version": "0.1.0"}`); no token needed, a stale one is ignored."""
        return Response({"version": project_version()})
