# Sourced by bin/serve, bin/test and bin/lock: create .venv on first use and (re)install the project when its
# packaging files change. Needs only Python 3.11+ (PYTHON picks the interpreter, default python3).
#   setup_venv serve   what serving needs: requirements/serve.lock, then the project itself (bin/serve)
#   setup_venv test    that plus the test extras: requirements/test.lock, the project, tests/agent_plugin
# The locks pin every package (bin/lock regenerates them from pyproject.toml), so every install is the same.

setup_venv() {
    local mode=${1:-serve}
    local python=${PYTHON:-python3}
    if [ ! -x .venv/bin/python ]; then
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$0: needs Python 3.11 or newer as '$python' (set PYTHON=/path/to/python3.11)" >&2
            exit 1
        fi
        echo "Creating .venv ..." >&2
        "$python" -m venv .venv || { rm -rf .venv; echo "$0: could not create .venv (python3-venv missing?)" >&2; exit 1; }
    fi
    local lock=requirements/$mode.lock
    local stamp=.venv/.installed-$mode
    local -a local_packages=(-e .)
    if [ "$mode" = test ]; then
        local_packages+=(./tests/agent_plugin)  # registers the site agent's MockBackend for the e2e tests
    fi
    if [ -f "$stamp" ] && [ ! pyproject.toml -nt "$stamp" ] && [ ! "$lock" -nt "$stamp" ] \
        && [ ! tests/agent_plugin/pyproject.toml -nt "$stamp" ]; then
        return 0
    fi
    local packages
    packages=$(grep -c '^[A-Za-z0-9]' "$lock")
    if [ "$mode" = test ]; then
        echo "Installing the project with its test tools ($packages pinned packages from $lock) into .venv;" \
            "the first time takes about 1-3 minutes, later runs only when a dependency changes ..." >&2
    else
        echo "Installing the project ($packages pinned packages from $lock) into .venv; the first time takes" \
            "about 20-60 seconds, later runs only when a dependency changes ..." >&2
    fi
    local started=$SECONDS
    .venv/bin/python -m pip install --disable-pip-version-check --progress-bar on -r "$lock"
    .venv/bin/python -m pip install --disable-pip-version-check --quiet --no-deps "${local_packages[@]}"
    echo "Installed in $((SECONDS - started)) s." >&2
    touch "$stamp"
}
