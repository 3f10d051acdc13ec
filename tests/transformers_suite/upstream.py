"""transformers' own model test suite, obtained at test set-up like any dependency.

`ModelTesterMixin` lives in `tests/test_modeling_common.py` of transformers' source distribution, not in the wheel.
`model_tester_mixin()` downloads the sdist of the installed release once (pip, into the git-ignored `.cache/`),
extracts its top-level `tests/*.py` as the package `transformers_upstream_tests` and imports the mixin. Two
sub-packages that module imports are not shipped in the sdist (`tests/generation`, `tests/exporters`); they are
registered as empty mixins (our own generation checks live in tests/test_generation.py). Without PyPI the tests
that need the mixin are skipped with the reason.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

import transformers

PACKAGE = "transformers_upstream_tests"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "transformers-tests"


class UpstreamUnavailable(RuntimeError):
    """The sdist could not be obtained (no PyPI) or does not provide the mixin."""


def _download_sdist(version: str, dest: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
               "--timeout", "20", "--retries", "1", "-d", str(dest), f"transformers=={version}"]
    result = subprocess.run(command, capture_output=True, text=True)
    archives = sorted(dest.glob("transformers-*.tar.gz"))
    if result.returncode != 0 or not archives:
        raise UpstreamUnavailable(f"cannot download the transformers {version} sdist from PyPI "
                                  f"(pip download exit {result.returncode}: {result.stderr.strip()[-300:]})")
    return archives[0]


def _extract_tests(archive: Path, target: Path) -> None:
    """Extract `<sdist>/tests/*.py` (top level only) into `target/PACKAGE/`."""
    package = target / PACKAGE
    package.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if member.isfile() and len(parts) == 3 and parts[1] == "tests" and parts[2].endswith(".py"):
                (package / parts[2]).write_bytes(tar.extractfile(member).read())
    (package / "__init__.py").touch()
    if not (package / "test_modeling_common.py").exists():
        raise UpstreamUnavailable(f"{archive.name} has no tests/test_modeling_common.py")


def ensure_tests(version: str = transformers.__version__) -> Path:
    """The folder holding `PACKAGE` for `version`, downloading and extracting the sdist on first use."""
    from filelock import FileLock

    root = CACHE / version
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(CACHE / f"{version}.lock")):
        if not (root / PACKAGE / "test_modeling_common.py").exists():
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                archive = _download_sdist(version, Path(tmp))
                staging = Path(tmp) / "out"
                _extract_tests(archive, staging)
                staging.rename(root)
    return root


def _register_missing_subpackages() -> None:
    """Empty stand-ins for the sdist's absent `tests/exporters` and `tests/generation` sub-packages."""
    for sub, mixin in (("exporters.test_export", "ExportTesterMixin"),
                       ("generation.test_utils", "GenerationTesterMixin")):
        parent, leaf = sub.split(".")
        for name in (f"{PACKAGE}.{parent}", f"{PACKAGE}.{sub}"):
            sys.modules.setdefault(name, types.ModuleType(name))
        module = sys.modules[f"{PACKAGE}.{sub}"]
        setattr(module, mixin, type(mixin, (), {"__doc__": "Not in the sdist: an empty stand-in."}))
        setattr(sys.modules[f"{PACKAGE}.{parent}"], leaf, module)


def test_modeling_common() -> types.ModuleType:
    """transformers' `tests/test_modeling_common.py` of the installed release (raises UpstreamUnavailable)."""
    root = str(ensure_tests())
    if root not in sys.path:
        sys.path.append(root)
    _register_missing_subpackages()
    return importlib.import_module(f"{PACKAGE}.test_modeling_common")


test_modeling_common.__test__ = False  # not a pytest test despite its name
