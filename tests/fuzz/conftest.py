"""The fuzz layer: Hypothesis properties over everything that parses outside input.

The test suite runs a bounded, repeatable number of examples per property (`ci` profile);
`scripts/fuzz.sh` runs the same properties with fresh random examples, 100,000 each by
default (`INITSUP_FUZZ_EXAMPLES`), and prints the counts.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("INITSUP_FUZZ_EXAMPLES", "200")),
    derandomize=True,  # the same examples every run: a red CI is a reproducible one
    database=None,
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("INITSUP_FUZZ_EXAMPLES", "100000")),
    database=None,
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.load_profile(os.environ.get("INITSUP_FUZZ_PROFILE", "ci"))
