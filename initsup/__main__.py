"""`python -m initsup` runs the command-line entry point."""

import sys

from initsup.cli import main

sys.exit(main())
