# Sourced by the ci/ scripts: make every supported interpreter findable, and install the tools they use.
# On a machine with pyenv, a shim runs only an active version: activate all that are installed.
if command -v pyenv >/dev/null 2>&1 && [ -z "${PYENV_VERSION:-}" ]; then
    versions=""
    for minor in 11 8 9 10 12 13; do
        v=$(pyenv versions --bare 2>/dev/null | grep -E "^3\.${minor}\.[0-9]+$" | sort -V | tail -n 1)
        [ -n "$v" ] && versions="${versions:+$versions:}$v"
    done
    [ -n "$versions" ] && export PYENV_VERSION="$versions"
fi
# Tools (tox, tox-uv) live in a venv of their own, outside any project environment.
ci_tools() {
    local venv=".venv-tools"
    if [ ! -x "$venv/bin/tox" ]; then
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade "tox>=4.20" "tox-uv>=1.11"
    fi
    export PATH="$PWD/$venv/bin:$PATH"
}
