"""The README and docs/: the two commands come first, and every relative link leads to a file and heading."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]  # docs/deep/ too


def anchors(page):
    """Return the anchors GitHub makes of a Markdown page's headings."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_the_readme_opens_with_the_two_commands():
    first_block = ROOT.joinpath("README.md").read_text().split("```")[1]
    assert re.findall(r"^python3 run\.py (\w+)", first_block, re.MULTILINE) == ["reports", "test"]
    assert ROOT.joinpath(".ci", "run").read_text().strip().endswith("exec python3 run.py test")


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
def test_every_relative_link_leads_to_a_file_and_heading(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists() or (anchor and destination.suffix == ".md" and anchor not in anchors(destination)):
            broken.append(target)
    assert not broken
