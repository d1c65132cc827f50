#!/usr/bin/env bash
# The Python package's benchmark figures (not tests): builds/reuses the wheel like test.sh, then
# prints each figure with the machine it was measured on.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

th_venv
th_wheel

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $("$TH_PYTHON" --version)"
echo "timehook $("$TH_PYTHON" -c 'import timehook; print(timehook.__version__)') (release wheel)"
echo
"$TH_PYTHON" "$TH_PY/bench/bench_verify.py"
echo
"$TH_PYTHON" "$TH_PY/bench/bench_schedule.py"
