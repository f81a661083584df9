"""Builds initsup as one executable file: the `initsup` package as a zip, behind a sh line.

    python3 scripts/build_pyz.py [OUTPUT]        (default: dist/initsup.pyz)

The file runs wherever a python3 (3.9 or later) is on PATH, needs no pip and no
site-packages, and is how an image without pip gets initsup: copy it to
/usr/local/bin/initsup.  The package's .py files go in with their bytecode for the Python
that runs this script, all stored uncompressed: on that Python version initsup starts
without compiling anything (a zip cannot cache bytecode later); other versions compile
the .py files at each start, about 20 ms more.

Run directly, the file is a shell script whose one command puts the file itself on
python3's path and calls initsup's entry point.  Why not a zip application's
`#!/usr/bin/env python3`: Python runs a zip's `__main__` through runpy, whose imports
(importlib.util, contextlib, functools, collections) cost every start about 6 ms and
every supervisor about half a MiB, for nothing initsup uses.  The zip is still a zip
application after the shell lines, so `python3 initsup.pyz` works too (for an image
without /bin/sh), through runpy.
"""

from __future__ import annotations

import io
import os
import py_compile
import shutil
import sys
import tempfile
import zipapp
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# python3 -c puts "" (the working directory) first on sys.path: the file takes its place,
# and its path the place of argv[0].
ENTRY = (
    "import sys; sys.path[0] = sys.argv[1]; del sys.argv[0]; from initsup.cli import entry; entry()"
)
# sh reads no further than `exec`, so the zip after these lines is never parsed as shell.
LAUNCHER = (
    "#!/bin/sh\n"
    "# initsup as one file: the initsup package, a zip application, follows these lines.\n"
    f'exec python3 -c \'{ENTRY}\' "$0" "$@"\n'
).encode()


def build(output: Path) -> Path:
    """Writes the archive to `output` and returns it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        package = Path(staging, "initsup")
        package.mkdir()
        for source in sorted((ROOT / "initsup").rglob("*.py")):  # with its subpackages
            name = source.relative_to(ROOT / "initsup").as_posix()
            copy = package / name
            copy.parent.mkdir(exist_ok=True)
            shutil.copy2(source, copy)
            # Next to its source, where zipimport looks; a hash instead of a date keeps
            # the build reproducible, and another version's interpreter skips the file.
            py_compile.compile(
                str(copy),
                cfile=str(copy) + "c",
                dfile=f"initsup/{name}",
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            shutil.copystat(copy, str(copy) + "c")  # its source's date, as in the zip
        # zipapp's generated __main__ would call main() and drop its exit code.
        entry = Path(staging, "__main__.py")
        entry.write_text("from initsup.cli import entry\n\nentry()\n")
        # Dated like the newest source, so the same sources give the same bytes (and the
        # same image layer).
        newest = max(path.stat().st_mtime for path in package.rglob("*.py"))
        directories = [package, *(path for path in package.rglob("*") if path.is_dir())]
        for path in (entry, *directories):
            os.utime(path, (newest, newest))
        archive = io.BytesIO()
        zipapp.create_archive(staging, target=archive)
    # zipimport finds a zip's directory from its end, so lines before it are harmless.
    output.write_bytes(LAUNCHER + archive.getvalue())
    output.chmod(0o755)
    return output


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else ROOT / "dist" / "initsup.pyz"
    print(build(output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
