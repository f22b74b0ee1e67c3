#!/usr/bin/env sh
# Make a browser available to the end-to-end tests: Playwright's own Chromium when it is
# installed, else the system Chromium, installed with apt when we are root and it is missing.
set -e
PY=${1:-.venv/bin/python}
if "$PY" - <<'PYCODE' 2>/dev/null
import os, sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    sys.exit(0 if os.path.exists(p.chromium.executable_path) else 1)
PYCODE
then
  echo "Browser: Playwright's Chromium"; exit 0
fi
for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
  if [ -x "$candidate" ]; then echo "Browser: $candidate"; exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium with apt-get (for the browser tests)..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  echo "Browser: /usr/bin/chromium"; exit 0
fi
echo "Trying Playwright's own Chromium download..."
"$PY" -m playwright install chromium || {
  echo "No browser for the end-to-end tests. Install Chromium (e.g. 'sudo apt-get install chromium')." >&2
  exit 1
}
