#!/usr/bin/env sh
# Print the path of the newest Python >= 3.12 on this machine, or explain what to install.
# Each candidate is run, not trusted by name: a pyenv shim can exist and still fail.
best=""; best_ver=0
try() {
  ver=$("$1" -c 'import sys; v=sys.version_info; print(v[0]*100+v[1] if v >= (3, 12) else 0)' 2>/dev/null) || return 0
  [ -n "$ver" ] && [ "$ver" -gt "$best_ver" ] && { best_ver=$ver; best=$("$1" -c 'import sys; print(sys.executable)'); }
  return 0
}
for name in python3.15 python3.14 python3.13 python3.12 python3 python; do
  command -v "$name" >/dev/null 2>&1 && try "$name"
done
for path in "$HOME"/.pyenv/versions/*/bin/python3 /usr/local/bin/python3.* /usr/bin/python3.* /opt/homebrew/bin/python3.*; do
  case "$path" in *-config|*m) continue ;; esac
  [ -x "$path" ] && try "$path"
done
if [ -z "$best" ]; then
  cat >&2 <<'MSG'
Secondhand needs Python 3.12 or newer, and none was found on this machine.
Install one, then run the command again:
  Debian/Ubuntu:  sudo apt-get install python3.12 python3.12-venv   (or python3.13)
  macOS:          brew install python@3.13
  any system:     pyenv install 3.13   (https://github.com/pyenv/pyenv)
MSG
  exit 1
fi
echo "$best"
