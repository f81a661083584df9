#!/usr/bin/env bash
# Runs the fuzz layer (tests/fuzz) with fresh random examples, 100,000 per property unless
# INITSUP_FUZZ_EXAMPLES says otherwise, and prints how many each property ran.  Extra
# arguments go to pytest (for example -k output to fuzz one target).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    bash scripts/test.sh --co -q >/dev/null  # creates .venv with the test tools
fi
export INITSUP_FUZZ_PROFILE=fuzz
export INITSUP_FUZZ_EXAMPLES=${INITSUP_FUZZ_EXAMPLES:-100000}
exec .venv/bin/python -m pytest tests/fuzz -p no:cacheprovider -q \
    --hypothesis-show-statistics "$@"
