"""The JSON parser of the API: DRF's, plus limits a JSON document must respect to reach a view.

Refused with 400 (ParseError): nesting deeper than API_LIMITS["JSON_MAX_DEPTH"] (Python's decoder would
otherwise hit its recursion limit: a 500), and numbers that overflow to infinity (`1e999`: jsonb cannot
store them). NaN and Infinity literals are already refused by DRF's strict mode.
"""

from __future__ import annotations

import codecs
import json
import math

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from core.api.json_values import depth_of, limit


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"Number out of range: {text[:40]}")
    return number


class LimitedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(text, parse_constant=self._refuse_constant, parse_float=_finite_float)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {limit('JSON_MAX_DEPTH')} levels.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if depth_of(data) > limit("JSON_MAX_DEPTH"):
            raise ParseError(f"JSON parse error - nested deeper than {limit('JSON_MAX_DEPTH')} levels.")
        return data

    @staticmethod
    def _refuse_constant(name: str) -> None:
        raise ValueError(f"Out of range float values are not JSON compliant: '{name}'")
