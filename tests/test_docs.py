"""The design lives in the repository: no tracked file points outside it, and every pointer into docs/method.md
(the file name, a comma and a section name, as the code writes them) names a heading that docs/method.md has."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
METHOD = ROOT / "docs" / "method.md"
# References to the design notes and paper that lived outside the repository. Spelled in pieces so that this file
# does not match itself.
FORBIDDEN = re.compile(
    "|".join([r"SPEC\.md", r"\bSPEC sections?\b", r"\.\./" + "shared", "shared/" + "design", "shared/" + "paper"])
)
POINTER = "docs/method.md" + ", "  # in two pieces for the same reason
# A section name ends at the end of the line or at anything but a word character, a hyphen, or a space followed by
# one: "Clusters)." and "Clusters (C of S tokens)" after the pointer both name "Clusters".
NAME_END = re.compile(r"(?![\w-]| [\w-])")


def tracked_text_files() -> dict[str, str]:
    """Every file git tracks (path relative to the repository root -> text), binary files left out."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = {}
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if not path.is_file():  # deleted in the work tree but not yet in the index
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue
        files[name] = data.decode("utf-8", errors="replace")
    return files


def headings(markdown: str) -> list[str]:
    """ATX headings (`#` to `######`) outside fenced code blocks, without the hashes."""
    names, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} +(.+?)[ #]*$", line)):
            names.append(match.group(1))
    return names


def github_anchor(heading: str) -> str:
    """The `#fragment` GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def pointed_sections(text: str, sections: list[str]) -> list[tuple[int, str, bool]]:
    """`(line, name, known)` for every pointer (`POINTER` + section name) in `text`. The longest heading the pointer
    starts with wins; a pointer that starts with no heading reports its text up to the next punctuation."""
    longest_first = sorted(sections, key=len, reverse=True)
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in re.finditer(re.escape(POINTER), line):
            rest = line[match.end():]
            name = next((s for s in longest_first if rest.startswith(s) and NAME_END.match(rest, len(s))), None)
            unknown = re.match(r"[\w -]*", rest).group(0).strip()
            found.append((number, name, True) if name else (number, unknown, False))
    return found


def test_no_file_refers_outside_the_repository():
    offenders = [
        f"{name}:{number}: {line.strip()[:100]}"
        for name, text in tracked_text_files().items()
        for number, line in enumerate(text.splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert not offenders, "point at a docs/method.md section instead:\n" + "\n".join(offenders)


def test_method_headings_are_unique():
    names = headings(METHOD.read_text())
    assert "Clusters" in names and "Choices the paper leaves open" in names
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_pointer_names_a_method_section():
    sections = headings(METHOD.read_text())
    pointers, broken = 0, []
    for name, text in tracked_text_files().items():
        for number, section, known in pointed_sections(text, sections):
            pointers += 1
            if not known:
                broken.append(f"{name}:{number}: {POINTER}{section!r}")
    assert pointers >= 20, "the code should point at docs/method.md by section name"
    assert not broken, f"no such heading in docs/method.md (headings: {sections}):\n" + "\n".join(broken)


def test_links_into_method_name_existing_anchors():
    anchors = {github_anchor(name) for name in headings(METHOD.read_text())}
    broken = [
        f"{name}: #{anchor}"
        for name, text in tracked_text_files().items()
        for target, anchor in re.findall(r"\]\(((?:\.\./)*(?:docs/)?method\.md)?#([\w-]+)\)", text)
        if (target or name == "docs/method.md") and anchor not in anchors
    ]
    assert not broken, "\n".join(broken)


def test_pointer_parsing():
    sections = ["Clusters", "Cluster-causal encoder", "Small-scale recipe (tiny presets)"]
    p = POINTER  # the examples below would otherwise be pointers in this very file
    text = (
        f"x ({p}Clusters). {p}Clusters (C of S)\n"
        f"{p}Cluster-causal encoder\n"
        f"[{p}Small-scale recipe (tiny presets)](docs/method.md#small-scale-recipe-tiny-presets)\n"
        f"{p}Clusters and orders; {p}Cluster"
    )
    assert pointed_sections(text, sections) == [
        (1, "Clusters", True),
        (1, "Clusters", True),
        (2, "Cluster-causal encoder", True),
        (3, "Small-scale recipe (tiny presets)", True),
        (4, "Clusters and orders", False),
        (4, "Cluster", False),
    ]
    assert github_anchor("Small-scale recipe (tiny presets)") == "small-scale-recipe-tiny-presets"
