"""Build the HTML book with warnings as errors; print where the pages are.

Used by `make book` and by tests/test_book.py, so both build the same way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import vendor_js

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
# -W: warnings are errors; -n: nitpicky references; --keep-going: report all of them.
FLAGS = ["-W", "-n", "--keep-going"]


def build_command(extra: list[str] | None = None) -> list[str]:
    """The `jupyter-book build` command line, using this interpreter's environment."""
    jb = Path(sys.executable).with_name("jupyter-book")
    return [str(jb), "build", str(ROOT), *FLAGS, *(extra or [])]


def prepare() -> None:
    """Everything the build needs besides the sources: the vendored JavaScript."""
    vendor_js.ensure()


def main() -> int:
    prepare()
    code = subprocess.run(build_command(sys.argv[1:]), cwd=ROOT).returncode
    if code == 0:
        print(f"\nThe book is built. Open {HTML / 'index.html'} in a browser.")
    else:
        print("\nThe build failed: see the warnings and errors above.", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
