#!/bin/sh
# Runs the browser tests (node:test) when their tools are there; exit 77 (skipped) with the
# reason otherwise: Debian's chromium, and playwright-core from npm (scripts/setup --tests).
here=$(dirname "$0")
chromium=${OTELP_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "skipped: no chromium at $chromium (scripts/setup --tests installs Debian's)"
  exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "skipped: playwright-core is not installed (npm ci in tests/browser, or scripts/setup --tests)"
  exit 77
fi
if [ "$OTELP_SANITIZE" = "thread" ]; then
  echo "skipped: the TSan runtime cannot be preloaded into the shells these tests run"
  exit 77
fi
exec node --test --test-concurrency=1 "$@"
