"""Loaded by pytest before Django's settings (`-p marketplace.pytest_plugin` in pyproject.toml's addopts).

The test suite runs in the embedded mode, like `bin/serve`: a generated SECRET_KEY, any host, plain HTTP
(marketplace/security.py). Servers, workers and commands the tests start inherit the flag; a test of the
production refusals starts its subprocess without it.
"""

import os

os.environ.setdefault("MARKETPLACE_EMBEDDED", "true")
