#!/usr/bin/env bash
# The browser test drives Debian's chromium (or the browser PROCURE_CHROMIUM names). Install it
# where this machine lets us (root with apt-get); never fail here: without a browser the test
# itself fails and says how to get one.
if [ -n "${PROCURE_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the browser test (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >/dev/null 2>&1 \
        || echo "could not install chromium: the browser test will fail and say how to get it"
else
    echo "chromium is missing: install it (Debian: apt-get install chromium) or set PROCURE_CHROMIUM"
fi
exit 0
