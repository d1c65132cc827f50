# Sourced by the benches that load an HTTP server: installs oha (the load generator, from crates)
# into $CACHE/tools on first use and sets $oha to it. Needs CACHE.
OHA_VERSION=1.16.0
oha="$CACHE/tools/bin/oha"
if [ "$("$oha" --version 2>/dev/null)" != "oha $OHA_VERSION" ]; then
  echo "bench: installing oha $OHA_VERSION into $CACHE/tools" >&2
  CARGO_TARGET_DIR="$CACHE/oha-target" cargo install oha --version "$OHA_VERSION" --locked --root "$CACHE/tools" >&2
fi
