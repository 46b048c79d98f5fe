"""The pinned toolchain: interpreter, ansible-core, and bundled collections within range."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ansible
import ansible_collections
import yaml
from ansible.release import __version__ as core_version
from conftest import ROOT
from packaging.specifiers import SpecifierSet


def test_python_and_ansible_core_versions() -> None:
    assert sys.version_info >= (3, 12), "ansible-core 2.21 needs Python 3.12+"
    assert core_version.startswith("2.21."), core_version
    assert Path(ansible.__file__).is_relative_to(Path(sys.prefix)), "ansible must come from .venv"


def test_bundled_collections_satisfy_requirements() -> None:
    """Galaxy is unreachable here: the pinned ansible package must carry every collection."""
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    base = Path(ansible_collections.__path__[0])
    problems = []
    for item in wanted:
        namespace, name = item["name"].split(".")
        manifest = base / namespace / name / "MANIFEST.json"
        if not manifest.exists():
            problems.append(f"{item['name']} is not bundled")
            continue
        version = json.loads(manifest.read_text())["collection_info"]["version"]
        if version not in SpecifierSet(item["version"]):
            problems.append(f"{item['name']} {version} is outside {item['version']}")
    assert problems == []


def test_requirements_are_pinned() -> None:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    packages = [line for line in lines if line]
    assert packages
    assert all("==" in line for line in packages), "every Python dependency is pinned exactly"
