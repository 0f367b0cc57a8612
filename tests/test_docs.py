"""The documentation's promises: every Python block in README.md and docs/ runs, and its links resolve.

Each file's ```python blocks run in order in one namespace, as a reader pasting them one after another
would. A block whose first line is ``# docs: needs EXTRA MODULE [MODULE ...]`` (for example
``# docs: needs train sklearn``) is skipped, with the rest of its file, where a module is missing.
"""

from __future__ import annotations

import re
import textwrap
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*$")
NEEDS = re.compile(r"^#\s*docs:\s*needs\s+(?P<extra>[\w-]+)\s+(?P<modules>[\w. ]+?)\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
README_MAX_LINES = 250


def fenced_blocks(text: str, lang: str = "python") -> list[tuple[int, str]]:
    """``(line number of the first code line, code)`` for each fenced block of ``lang``."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, start, i = opening["indent"], i + 1, i + 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        if opening["lang"] == lang:
            body = [line[len(indent) :] if line.startswith(indent) else line for line in lines[start:i]]
            blocks.append((start + 1, textwrap.dedent("\n".join(body)) + "\n"))
        i += 1
    return blocks


def test_fenced_blocks_finds_blocks_with_their_line_numbers():
    text = "intro\n```python\nx = 1\n```\n```bash\nls\n```\n- item\n\n    ```python\n    y = x\n    ```\n"
    assert fenced_blocks(text) == [(3, "x = 1\n"), (11, "y = x\n")]


FILES_WITH_CODE = [path for path in DOC_FILES if fenced_blocks(path.read_text(encoding="utf-8"))]


def test_readme_and_docs_have_python_blocks():
    names = {path.relative_to(ROOT).as_posix() for path in FILES_WITH_CODE}
    assert "README.md" in names and "docs/guide/core.md" in names


@pytest.mark.parametrize("path", FILES_WITH_CODE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a block that writes files writes them here
    name = path.relative_to(ROOT).as_posix()
    namespace: dict[str, object] = {"__name__": f"docs:{name}"}
    for line, code in fenced_blocks(path.read_text(encoding="utf-8")):
        needs = NEEDS.match(code.splitlines()[0])
        if needs:
            for module in needs["modules"].split():
                pytest.importorskip(module, reason=f"{name}:{line} needs the {needs['extra']!r} extra")
        try:
            exec(compile(code, f"{name}:{line}", "exec"), namespace)
        except Exception as error:
            pytest.fail(
                f"{name}, the python block at line {line}: {type(error).__name__}: {error}\n"
                + "".join(traceback.format_exception(error)[-3:]),
                pytrace=False,
            )


def relative_targets(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)  # links in code are code
    return [m["target"] for m in LINK.finditer(text) if not re.match(r"[a-z]+:|#", m["target"])]


def test_readme_is_short_and_its_links_resolve():
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES
    missing = [t for t in relative_targets(readme) if not (ROOT / t.split("#")[0]).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_package_long_description_has_only_absolute_links():
    """PyPI renders the long description away from the repository, where a relative link or image breaks."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    readme = re.search(r'^readme\s*=\s*"([^"]+)"', pyproject, re.M)
    assert readme, "pyproject.toml names no readme"
    assert relative_targets(ROOT / readme[1]) == []
