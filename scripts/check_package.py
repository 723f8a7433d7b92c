"""Build the sdist and wheel, check them, and run the quickstart against the installed wheel.

``make package`` runs this (and ``make test`` runs that). The editable install the test suite uses
hides packaging mistakes: a template or static file left out of the wheel, a module missing from
the package list, metadata PyPI would reject. So, in a temporary directory:

1. ``python -m build`` makes the sdist, then the wheel from the sdist (so the sdist is complete);
2. ``twine check --strict`` checks both as PyPI would render and accept them;
3. every file of ``django_jobs/`` that git tracks must be in the wheel, the LICENSE in both, and
   the metadata must carry no extra meant for developers only;
4. a fresh virtualenv installs the wheel with its dependencies from the package index only;
5. tests/docs/walkthrough.py follows the quickstart in a copy of its project, outside the source
   tree, with that virtualenv's Python: migrate (SQLite), sign up, ``runworker --burst``, a job
   that fails and is replayed, the admin's pages and stylesheet.

Exits 0 when all pass; otherwise prints what failed and exits 1. Takes about 30 seconds.
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "docs"))

import walkthrough  # noqa: E402

DEVELOPER_EXTRAS = {"dev", "bench", "docs", "package"}


def sh(*argv: str | Path, cwd: Path = ROOT) -> str:
    """Run ``argv``; return its stdout, or exit with its output if it fails."""
    done = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"check_package: {' '.join(map(str, argv))} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def build(out: Path) -> tuple[Path, Path]:
    """Build into ``out``; return (sdist, wheel)."""
    sh(sys.executable, "-m", "build", "--outdir", out, ROOT)
    sh(sys.executable, "-m", "twine", "check", "--strict", *sorted(out.iterdir()))
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def check_contents(sdist: Path, wheel: Path) -> None:
    """Exit if a tracked package file, the LICENSE or the metadata is wrong in the archives."""
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
        (metadata_name,) = [n for n in in_wheel if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    tracked = sh("git", "ls-files", "django_jobs").split()
    missing = sorted(set(tracked) - in_wheel)
    if missing:
        sys.exit(f"check_package: the wheel lacks {missing}; see [tool.setuptools] in pyproject")
    if not any(name.endswith(".dist-info/licenses/LICENSE") for name in in_wheel):
        sys.exit("check_package: the wheel lacks its LICENSE")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[-1] for name in archive.getnames()}
    for name in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"):
        if name not in in_sdist:
            sys.exit(f"check_package: the sdist lacks {name}")
    leaked = DEVELOPER_EXTRAS & set(metadata.get_all("Provides-Extra") or [])
    if leaked:
        sys.exit(f"check_package: extras {sorted(leaked)} are for developers; use a group")
    if not metadata.get_all("Project-URL"):
        sys.exit("check_package: the metadata has no Project-URL")


def install(wheel: Path, where: Path) -> Path:
    """Make a fresh virtualenv at ``where`` holding ``wheel``; return its Python."""
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    sh(python, "-m", "pip", "install", "--quiet", wheel, cwd=where)
    location = sh(python, "-c", "import django_jobs; print(django_jobs.__file__)", cwd=where)
    if not Path(location.strip()).is_relative_to(where):
        sys.exit(f"check_package: django_jobs was imported from {location}, not the wheel")
    return python


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="check-package-") as tmp:
        tmpdir = Path(tmp)
        sdist, wheel = build(tmpdir / "dist")
        check_contents(sdist, wheel)
        python = install(wheel, tmpdir / "venv")
        try:
            walkthrough.walk(str(python), tmpdir / "quickstart")
        except AssertionError as error:
            sys.exit(f"check_package: the quickstart failed against the wheel: {error}")
    print(f"check_package: {wheel.name} and {sdist.name} build, install and run the quickstart")


if __name__ == "__main__":
    main()
