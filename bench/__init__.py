"""initsup's benchmark suite: the same workloads on initsup and on its peers, in one run.

    python -m bench                 # every scenario, full size; results in bench/results/
    python -m bench --size tiny     # every scenario at a tiny size (the test suite's smoke run)
    python -m bench startup relay   # some scenarios only

See bench/README.md for what each scenario runs on each system.
"""
