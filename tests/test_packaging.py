"""The built wheel carries what the package index shows: version, licence, links, classifiers."""

from __future__ import annotations

import email.message
import email.parser
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPO = "https://github.com/remotedbg/remotedbg"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel pip builds from this checkout, as a release would (a few seconds)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        timeout=120,
    )
    (path,) = out.glob("remotedbg-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


@pytest.fixture(scope="module")
def metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.Parser().parsestr(wheel.read(name).decode())


def test_version_is_the_installed_one(metadata: email.message.Message) -> None:
    """The wheel's version is the one `remotedbg --version` and `__version__` report."""
    import remotedbg

    assert metadata["Version"] == version("remotedbg") == remotedbg.__version__


def test_licence_is_mit_and_shipped(
    wheel: zipfile.ZipFile, metadata: email.message.Message
) -> None:
    """The MIT licence text is in the wheel, and declared as an SPDX expression only."""
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    text = wheel.read(name).decode()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 remotedbg developers\n")
    assert metadata["License-Expression"] == "MIT"
    # PEP 639 deprecates "License ::" classifiers next to an expression.
    assert not [c for c in metadata.get_all("Classifier", []) if c.startswith("License ::")]


def test_project_urls(metadata: email.message.Message) -> None:
    """The index links to the repository, its docs and its changelog, and nowhere else."""
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL", []))
    assert urls == {
        "Homepage": REPO,
        "Documentation": f"{REPO}/tree/main/docs",
        "Source": REPO,
        "Changelog": f"{REPO}/blob/main/CHANGES.md",
    }


def test_classifiers(metadata: email.message.Message) -> None:
    """Every supported Python version and both tested systems are declared."""
    classifiers = set(metadata.get_all("Classifier", []))
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert {"Operating System :: POSIX :: Linux", "Operating System :: MacOS"} <= classifiers


def test_long_description_has_no_relative_links(metadata: email.message.Message) -> None:
    """README's docs/ links point at GitHub, since on the index a relative link leads nowhere."""
    readme = metadata.get_payload()
    assert isinstance(readme, str)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert readme.startswith("# remotedbg")
    assert "](docs/" not in readme
    assert not re.findall(r"\]\((?!https?://|#)[^)]*\)", readme)
    assert f"]({REPO}/blob/main/docs/security.md)" in readme


def test_version_attribute_is_lazy() -> None:
    """`import remotedbg` reads no metadata; `remotedbg.__version__` reads it when asked."""
    script = (
        "import json, sys\n"
        "import remotedbg\n"
        "before = 'importlib.metadata' in sys.modules\n"
        "print(json.dumps([before, remotedbg.__version__]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [False, version("remotedbg")]


def test_readme_installs_the_wheel_pip_builds(wheel: zipfile.ZipFile) -> None:
    """The wheel file the README tells people to install is the one `pip wheel` makes."""
    readme = (ROOT / "README.md").read_text()
    assert f"pip install 'dist/{Path(str(wheel.filename)).name}[flask]'" in readme
    assert "pip wheel --no-deps -w dist ./remotedbg" in readme
