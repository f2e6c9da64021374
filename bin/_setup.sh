# Sourced by bin/serve and bin/test: create .venv on first use and (re)install the project when its
# packaging files change. Needs only Python 3.11+ (PYTHON picks the interpreter, default python3).

setup_venv() {
    local python=${PYTHON:-python3}
    if [ ! -x .venv/bin/python ]; then
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$0: needs Python 3.11 or newer as '$python' (set PYTHON=/path/to/python3.11)" >&2
            exit 1
        fi
        echo "Creating .venv ..." >&2
        "$python" -m venv .venv || { rm -rf .venv; echo "$0: could not create .venv (python3-venv missing?)" >&2; exit 1; }
    fi
    local stamp=.venv/.installed-stamp
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ tests/agent_plugin/pyproject.toml -nt "$stamp" ]; then
        echo "Installing the project and its dependencies into .venv ..." >&2
        # tests/agent_plugin registers the site agent's MockBackend for the end-to-end tests
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' ./tests/agent_plugin
        touch "$stamp"
    fi
}
