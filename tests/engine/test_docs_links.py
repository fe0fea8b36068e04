"""The README is one page that points into docs/; every relative link there and in docs/ must
lead to a file that exists (pages move; a dead link is a newcomer's dead end)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_relative_link_of_the_readme_and_docs_resolves():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    dead = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in pages
        for target in LINK.findall(page.read_text(encoding="utf-8"))
        if "://" not in target and not target.startswith("mailto:") and not (page.parent / target).exists()
    ]
    assert not dead, dead
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for kind in ("tutorial.md", "how-to/", "reference.md", "explanation/", "troubleshooting.md"):
        assert f"](docs/{kind}" in readme, kind
