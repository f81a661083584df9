"""Builds initsup as one executable file: a zip application of the `initsup` package.

    python3 scripts/build_pyz.py [OUTPUT]        (default: dist/initsup.pyz)

The file runs wherever a python3 (3.9 or later) is on PATH, needs no pip and no
site-packages, and is how an image without pip gets initsup: copy it to
/usr/local/bin/initsup.  The package's .py files go in with their bytecode for the Python
that runs this script, all stored uncompressed: on that Python version initsup starts
without compiling anything (a zip cannot cache bytecode later); other versions compile
the .py files at each start, about 20 ms more.
"""

from __future__ import annotations

import os
import py_compile
import shutil
import sys
import tempfile
import zipapp
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(output: Path) -> Path:
    """Writes the archive to `output` and returns it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        package = Path(staging, "initsup")
        package.mkdir()
        for source in sorted((ROOT / "initsup").glob("*.py")):
            copy = package / source.name
            shutil.copy2(source, copy)
            # Next to its source, where zipimport looks; a hash instead of a date keeps
            # the build reproducible, and another version's interpreter skips the file.
            py_compile.compile(
                str(copy),
                cfile=str(copy) + "c",
                dfile=f"initsup/{source.name}",
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        # zipapp's generated __main__ would call main() and drop its exit code.
        entry = Path(staging, "__main__.py")
        entry.write_text("from initsup.cli import entry\n\nentry()\n")
        # Dated like the newest source, so the same sources give the same bytes (and the
        # same image layer).
        newest = max(path.stat().st_mtime for path in package.glob("*.py"))
        os.utime(entry, (newest, newest))
        zipapp.create_archive(staging, target=output, interpreter="/usr/bin/env python3")
    output.chmod(0o755)
    return output


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else ROOT / "dist" / "initsup.pyz"
    print(build(output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
