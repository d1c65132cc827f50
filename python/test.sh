#!/usr/bin/env bash
# The Python package's tests, from a fresh clone: venv + pinned tools, the wheel (rebuilt only
# when its sources changed), ruff, then pytest. Extra arguments go to pytest.
#   bash python/test.sh            # everything
#   bash python/test.sh -k vectors # a subset
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

th_venv
th_wheel

th_log "ruff check"
"$TH_VENV/bin/ruff" check --quiet "$TH_PY"
"$TH_VENV/bin/ruff" format --quiet --check "$TH_PY"

# The wheel is abi3 for Python >= 3.9: when a 3.9 interpreter is at hand, import it there too.
py39=""
for candidate in python3.9 "$HOME"/.pyenv/versions/3.9*/bin/python3.9; do
    if "$candidate" --version >/dev/null 2>&1; then py39="$candidate"; break; fi
done
if [ -n "$py39" ]; then
    th_log "abi3 check on $("$py39" --version 2>&1)"
    PYTHONPATH="$("$TH_PYTHON" -c 'import os, timehook; print(os.path.dirname(os.path.dirname(timehook.__file__)))')" \
        "$py39" -S -c 'import timehook
s = timehook.Scheduler.open(":memory:", autostart=False)
j = s.get(s.schedule("https://example.com/", after=60, payload={"a": 1}))
assert j.json() == {"a": 1} and j.state == "scheduled"
print("  timehook", timehook.__version__, "works on Python 3.9")'
fi

th_log "pytest"
set +e
(cd "$TH_ROOT" && "$TH_PYTHON" -m pytest -p no:cacheprovider "$TH_PY/tests" "$@")
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    th_log "pytest collected no tests: that is a failure here"
    exit 1
fi
exit "$rc"
