"""The docs tell the truth about the repository: every relative link and every repository file the
README names in backticks exists."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_relative_links_resolve():
    missing = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)", doc.read_text()):
            if "://" not in target and not (doc.parent / target).exists():
                missing.append(f"{doc.name}: {target}")
    assert not missing, f"links to files that do not exist: {missing}"


def test_the_readme_points_at_nothing_outside_the_repository():
    assert not re.search(r"(?<![.\w])\.\./", (ROOT / "README.md").read_text())


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_repository_files_named_in_the_docs_exist(doc):
    named = set(re.findall(r"`((?:benchmarks|tests|docs|darla|agents|envs|eval|vision|artifacts)/[\w./-]+\.(?:py|sh|md|json|png))`", doc.read_text()))
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_the_readme_links_every_docs_page():
    text = (ROOT / "README.md").read_text()
    unlinked = [d.name for d in DOCS[1:] if f"](docs/{d.name})" not in text]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"
