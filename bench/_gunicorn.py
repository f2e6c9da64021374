"""`python bench/_gunicorn.py CODE_ROOT <gunicorn arguments>`: gunicorn whose master and workers import
the application from CODE_ROOT only (see _server.isolate_imports); the workers fork from this process."""

import sys
from pathlib import Path

from _server import isolate_imports

if __name__ == "__main__":
    isolate_imports(Path(sys.argv[1]))
    sys.argv = ["gunicorn", *sys.argv[2:]]
    from gunicorn.app.wsgiapp import run

    sys.exit(run())
