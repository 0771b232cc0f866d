"""The packages' import arrows point one way: darla → agents, eval → vision, envs → artifacts
(DESIGN.md); ``artifacts`` (atomic writes, PNG, version, digests) is the one I/O home every layer uses."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "artifacts": {"darla", "agents", "eval", "vision", "envs"},
    "envs": {"darla", "agents", "eval", "vision"},
    "vision": {"darla", "agents", "eval", "envs"},
    "agents": {"darla", "eval"},
    "eval": {"darla", "agents"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_upwards(package):
    offenders = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
                 for path in (ROOT / package).rglob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


@pytest.mark.parametrize("pattern", ["mkstemp", "importlib.metadata", "cv2.imencode", "cv2.imwrite"])
def test_file_helpers_live_in_artifacts(pattern):
    """Temporary files, version look-ups and PNG encoding have one home: no layer keeps a copy."""
    copies = [str(path.relative_to(ROOT)) for package in FORBIDDEN if package != "artifacts"
              for path in (ROOT / package).rglob("*.py") if pattern in path.read_text()]
    assert not copies
