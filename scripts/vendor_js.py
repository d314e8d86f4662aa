"""Fetch the JavaScript the HTML book serves itself, from the npm registry.

The built book makes no third-party requests, so it works offline and its widgets
move without a kernel. Two packages, pinned with their npm integrity hashes:

* `@jupyter-widgets/html-manager`: its standalone `dist/embed.js` bundles the base
  and controls widget modules of ipywidgets 8 (and 7) and renders the widget state
  that the build saved into each page. It needs no require.js. Its icon fonts sit
  beside it. MyST-NB adds it only to pages that hold widget state
  (`nb_ipywidgets_js` in `_config.yml`).
* `mathjax` 3: `tex-mml-chtml.js` with the TeX extensions it loads on demand and
  its fonts (`mathjax_path` in `_config.yml`).

They land in `_vendor/` (not committed); Sphinx copies it into `_build/html/_static/`.
Run by scripts/build_book.py before every build; it does nothing when the pinned
versions are already there.

One more package is for the tests only and is never published with the book:

* `axe-core`: the accessibility rules engine the browser tests inject into every
  built page (tests/test_accessibility.py). Its `axe.min.js` lands in
  `node_modules/axe-core/` (not committed), outside Sphinx's static paths.

Usage: python scripts/vendor_js.py [--force] [--test]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "_vendor"
STAMP = VENDOR / "versions.json"
TEST_VENDOR = ROOT / "node_modules"
TEST_STAMP = TEST_VENDOR / "axe-core" / "versions.json"
AXE_JS = TEST_VENDOR / "axe-core" / "axe.min.js"


def keep_widgets(path: str) -> str | None:
    """Where a file of the html-manager package goes, or None to skip it."""
    if not path.startswith("package/dist/") or path.endswith((".map", ".txt")):
        return None
    name = path.removeprefix("package/dist/")
    if "amd" in name or "/" in name:  # the require.js flavour is not used
        return None
    return f"widgets/{name}"


def keep_mathjax(path: str) -> str | None:
    """Where a file of the mathjax package goes, or None to skip it."""
    prefix = "package/es5/"
    if not path.startswith(prefix):
        return None
    name = path.removeprefix(prefix)
    wanted = name == "tex-mml-chtml.js" or name.startswith(
        ("input/", "output/chtml", "ui/", "a11y/", "adaptors/")
    )
    return f"mathjax/{name}" if wanted else None


PACKAGES = {
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//"
        "SABeNz1yp47bCrJ3CQA==",
        keep_widgets,
    ),
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/"
        "FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        keep_mathjax,
    ),
}
PINS = {name: version for name, (version, _, _) in PACKAGES.items()}


def keep_axe(path: str) -> str | None:
    """Where a file of the axe-core package goes, or None to skip it."""
    name = path.removeprefix("package/")
    return f"axe-core/{name}" if name in ("axe.min.js", "LICENSE") else None


# For the tests only: fetched into node_modules/, never copied into the book.
TEST_PACKAGES = {
    "axe-core": (
        "4.14.1",
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASy"
        "FNNtuFooJpZe37OgudVGtQ==",
        keep_axe,
    ),
}
TEST_PINS = {name: version for name, (version, _, _) in TEST_PACKAGES.items()}


def integrity(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def fetch(
    name: str, version: str, expected: str, keep, workdir: Path, dest: Path = VENDOR
) -> int:
    """npm-pack one package, check its hash, extract the kept files into `dest`;
    count them."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "npm is needed to fetch the book's JavaScript (Node.js and npm); "
            "install them, e.g. `apt-get install nodejs npm`, and build again."
        )
    out = subprocess.run(
        [npm, "pack", "--json", f"{name}@{version}", "--pack-destination", workdir],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / json.loads(out.stdout)[0]["filename"]
    got = integrity(tarball)
    if got != expected:
        raise SystemExit(f"{name}@{version}: integrity {got} != pinned {expected}")
    count = 0
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            target = keep(member.name) if member.isfile() else None
            if target is None:
                continue
            out_path = dest / target
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_bytes(tar.extractfile(member).read())
            count += 1
    return count


def ensure(force: bool = False) -> bool:
    """Make `_vendor/` hold the pinned packages; True when it had to fetch them."""
    if not force and STAMP.exists() and json.loads(STAMP.read_text()) == PINS:
        return False
    shutil.rmtree(VENDOR, ignore_errors=True)
    VENDOR.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, expected, keep) in PACKAGES.items():
            n = fetch(name, version, expected, keep, Path(tmp))
            print(f"vendored {name}@{version}: {n} files")
    STAMP.write_text(json.dumps(PINS, indent=1))
    return True


def ensure_test(force: bool = False) -> Path:
    """Make `node_modules/` hold the test-only packages; return axe.min.js's path."""
    fresh = TEST_STAMP.exists() and json.loads(TEST_STAMP.read_text()) == TEST_PINS
    if force or not fresh or not AXE_JS.exists():
        shutil.rmtree(TEST_VENDOR / "axe-core", ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            for name, (version, expected, keep) in TEST_PACKAGES.items():
                n = fetch(name, version, expected, keep, Path(tmp), TEST_VENDOR)
                print(f"fetched {name}@{version} for the tests: {n} files")
        TEST_STAMP.write_text(json.dumps(TEST_PINS, indent=1))
    return AXE_JS


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="fetch even if present")
    parser.add_argument("--test", action="store_true", help="also the test-only JS")
    args = parser.parse_args()
    ensure(args.force)
    if args.test:
        ensure_test(args.force)
    sys.exit(0)
