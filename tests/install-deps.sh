#!/usr/bin/env bash
# Installs what the tests need besides the Rust toolchain, skipping what is there already:
# the wasm32-wasip2 target (the built-in plugins), the pinned real agent CLIs of tests/agents
# (driven offline against tests/fake-model), bubblewrap + socat (the sandbox Claude Code
# confines the commands of `permissions: edit` stages with), and chromium + chromium-driver
# (the browser tests of the web page, tests/e2e/web_ui.rs); Debian / Ubuntu packages.
#
#   bash tests/install-deps.sh && cargo test --workspace
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2

if [ -f tests/agents/package-lock.json ]; then
    npm ci --prefix tests/agents --no-audit --no-fund --loglevel=error
else
    npm install --prefix tests/agents --no-audit --no-fund --loglevel=error
fi

if ! command -v bwrap >/dev/null || ! command -v socat >/dev/null; then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq bubblewrap socat
fi

# The web page's browser tests drive headless Chromium through chromedriver (W3C WebDriver).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq chromium chromium-driver
fi
