#!/usr/bin/env bash
# A Python venv with TensorFlow 2.21 / Keras 3.15 from the machine's local wheel mirror (no network), made once
# and reused, then `"$@"` run with it first on PATH:
#
#   scripts/keras-venv.sh python scripts/keras-fixtures.py          # regenerate test/fixtures/keras
#   scripts/keras-venv.sh --path                                    # make it if needed, print its python
#
# Where: $KERAS_VENV, else ${XDG_CACHE_HOME:-~/.cache}/wasm-layers/keras-venv. The install is bounded by
# $KERAS_VENV_TIMEOUT seconds (default 900). Exit status 3 means no venv can be made here (no python3 -m venv,
# no wheel mirror, or pip failed): callers that treat Keras as optional skip on it.
set -euo pipefail
REQ="tensorflow-cpu==2.21.0"
VENV="${KERAS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/wasm-layers/keras-venv}"
STAMP="$VENV/.wasm-layers-ready"

if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$REQ" ]]; then
  links=()
  for d in /opt/pypi/files /opt/pypi-more/files /opt/wheels; do [[ -d "$d" ]] && links+=(--find-links "$d"); done
  if [[ ${#links[@]} -eq 0 ]]; then echo "keras-venv: no local wheel mirror (/opt/pypi/files, /opt/pypi-more/files, /opt/wheels)" >&2; exit 3; fi
  if ! command -v python3 >/dev/null; then echo "keras-venv: no python3" >&2; exit 3; fi
  echo "keras-venv: installing $REQ into $VENV (local wheels only, at most ${KERAS_VENV_TIMEOUT:-900} s)" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  if ! python3 -m venv "$VENV" >&2; then echo "keras-venv: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; rm -rf "$VENV"; exit 3; fi
  if ! timeout "${KERAS_VENV_TIMEOUT:-900}" "$VENV/bin/pip" install --quiet --no-index "${links[@]}" "$REQ" >&2; then
    echo "keras-venv: pip install $REQ failed or timed out" >&2; rm -rf "$VENV"; exit 3
  fi
  echo "$REQ" >"$STAMP"
fi

if [[ "${1:-}" == "--path" ]]; then echo "$VENV/bin/python"; exit 0; fi
export PATH="$VENV/bin:$PATH"
exec "$@"
