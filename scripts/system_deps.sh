#!/usr/bin/env bash
# System packages the book needs, installed with apt-get when missing (as root) or
# named with the command to run (otherwise).
#   scripts/system_deps.sh          npm (fetches the JavaScript the book serves)
#   scripts/system_deps.sh --test   npm, chromium and a CJK font (the browser tests
#                                   screenshot the Chinese edition)
set -euo pipefail

need=()
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [[ "${1:-}" == "--test" ]]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-noto-cjk)
fi
[[ ${#need[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "missing: ${need[*]}. Install them, e.g. sudo apt-get install ${need[*]}" >&2
  exit 1
fi
