#!/usr/bin/env bash
# Screenshots of the built site for the README, taken in headless Chromium:
# the front page (docs/site-front.png) and one gallery example (docs/site-gallery.png).
#
#   make docs && docs/screenshots.sh [HTML_DIR]
#
# HTML_DIR defaults to docs/_build/html. Needs Debian's `chromium` package
# (apt-get install -y chromium). The PNGs are reduced to a 256-colour palette with
# Pillow (installed with matplotlib) to keep them small.
set -euo pipefail
cd "$(dirname "$0")/.."

html="${1:-docs/_build/html}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
    echo "$0: chromium not found; install it with: apt-get install -y chromium" >&2
    exit 2
fi

shoot() {  # PAGE OUT.png WIDTH,HEIGHT
    local page="$html/$1" out="docs/$2" profile
    if [ ! -f "$page" ]; then
        echo "$0: $page not found; build the site first: make docs" >&2
        exit 2
    fi
    profile="$(mktemp -d)"
    "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$profile" --window-size="$3" \
        --virtual-time-budget=5000 --screenshot="$(realpath -m "$out")" \
        "file://$(realpath "$page")" >/dev/null 2>&1
    rm -rf "$profile"
    if [ ! -s "$out" ]; then
        echo "$0: chromium wrote no screenshot to $out" >&2
        exit 1
    fi
}

shoot index.html site-front.png 1280,1100
shoot auto_examples/plot_signal_propagation.html site-gallery.png 1280,2000

python="$(dirname "$0")/../.venv/bin/python"
[ -x "$python" ] || python=python3
"$python" - docs/site-front.png docs/site-gallery.png <<'PY'
import sys
from PIL import Image

for path in sys.argv[1:]:
    Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
    print(path)
PY
