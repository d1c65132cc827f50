# Sourced by python/test.sh and python/bench.sh: prepares the venv and installs a fresh wheel.
#
#   TIMEHOOK_VENV     the venv (default $HOME/.cache/timehook/venv), created with python3 -m venv
#   CARGO_TARGET_DIR  cargo's target dir (default <repo>/target); cargo builds incrementally
#
# The wheel is rebuilt (maturin build --release) and reinstalled only when a source it is made
# from changed: a fingerprint of those files is kept in the venv.

TH_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TH_ROOT="$(cd "$TH_PY/.." && pwd)"
TH_VENV="${TIMEHOOK_VENV:-$HOME/.cache/timehook/venv}"
TH_PYTHON="$TH_VENV/bin/python"

th_log() { printf '[timehook python] %s\n' "$*" >&2; }

th_fingerprint() {
    # Every file the wheel is built from, by content.
    (cd "$TH_ROOT" && find Cargo.toml Cargo.lock core/Cargo.toml core/src bindings/Cargo.toml \
        bindings/src python/Cargo.toml python/pyproject.toml python/README.md python/src \
        python/timehook -type f ! -name '*.pyc' -print0 2>/dev/null \
        | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

th_venv() {
    if [ ! -x "$TH_PYTHON" ]; then
        th_log "creating $TH_VENV"
        python3 -m venv "$TH_VENV"
    fi
    local want have=""
    want="$(sha256sum "$TH_PY/requirements-dev.txt" | cut -d' ' -f1)"
    [ -f "$TH_VENV/.timehook-requirements" ] && have="$(cat "$TH_VENV/.timehook-requirements")"
    if [ "$want" != "$have" ]; then
        th_log "installing $TH_PY/requirements-dev.txt"
        "$TH_PYTHON" -m pip install --quiet --disable-pip-version-check -r "$TH_PY/requirements-dev.txt"
        echo "$want" > "$TH_VENV/.timehook-requirements"
    fi
}

th_wheel() {
    local want have="" dist
    want="$(th_fingerprint)"
    [ -f "$TH_VENV/.timehook-wheel" ] && have="$(cat "$TH_VENV/.timehook-wheel")"
    if [ "$want" = "$have" ] && "$TH_PYTHON" -c 'import timehook' 2>/dev/null; then
        th_log "wheel up to date"
        return 0
    fi
    dist="${CARGO_TARGET_DIR:-$TH_ROOT/target}/python-dist"
    rm -rf "$dist"
    th_log "building the wheel (maturin build --release)"
    "$TH_VENV/bin/maturin" build --release --quiet -m "$TH_PY/Cargo.toml" -o "$dist"
    "$TH_PYTHON" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$dist"/timehook-*.whl
    echo "$want" > "$TH_VENV/.timehook-wheel"
}
