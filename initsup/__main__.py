"""`python -m initsup` runs the command-line entry point."""

from initsup.cli import entry

entry()
