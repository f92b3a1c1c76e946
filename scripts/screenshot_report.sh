#!/usr/bin/env bash
# Screenshot of the front page of an fnnlab HTML report, taken in headless Chromium.
#
#   scripts/screenshot_report.sh REPORT_DIR [OUT.png] [WIDTHxHEIGHT]
#
# REPORT_DIR holds index.html (e.g. from `fnnlab reproduce --report REPORT_DIR`);
# OUT.png defaults to docs/report.png, the size to 1200x1400 CSS pixels. Needs Debian's
# `chromium` package (apt-get install -y chromium). The PNG is reduced to a 256-colour
# palette with Pillow (installed with matplotlib) to keep it small.
set -euo pipefail

report="${1:?usage: $0 REPORT_DIR [OUT.png] [WIDTHxHEIGHT]}"
out="${2:-docs/report.png}"
size="${3:-1200x1400}"
html="$report/index.html"

if [ ! -f "$html" ]; then
    echo "$0: $html not found; write a report first: fnnlab reproduce --quick --report $report" >&2
    exit 2
fi
browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
    echo "$0: chromium not found; install it with: apt-get install -y chromium" >&2
    exit 2
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
target="$(realpath -m "$out")"

"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --window-size="${size/x/,}" --screenshot="$target" \
    "file://$(realpath "$html")" >/dev/null 2>&1

if [ ! -s "$target" ]; then
    echo "$0: chromium wrote no screenshot to $target" >&2
    exit 1
fi

python="$(dirname "$0")/../.venv/bin/python"
[ -x "$python" ] || python=python3
"$python" - "$target" <<'PY'
import sys
from PIL import Image

path = sys.argv[1]
Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
PY
echo "$target ($(du -k "$target" | cut -f1) KB)"
