"""The repository stands alone: no tracked file names a folder beside the checkout, no Python
file builds a path that climbs out of it, nothing requires an environment variable, and HELM's
vectors are the bytes their provenance table names.

`.ci/run` proves the same from the other side: it runs the suite in a copy of the checkout with
nothing beside it."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELM_DATA = ROOT / "tests" / "data" / "helm"

# Spelled in two pieces so that this file does not name the folder it forbids.
SIBLING_FOLDER = ".." + "/shared"
SIBLING_PATTERN = re.compile(re.escape("..") + r"[/\\]shared\b")
SKIPPED_PARTS = {
    ".git",
    ".nox",
    ".venv",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "fuzz-runs",
}


def tracked_files(root: Path) -> list[Path]:
    """The files git tracks under *root*, or every file outside tool caches when there is no git."""
    if (root / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
        ).stdout
        return [root / name for name in listed.decode("utf-8").split("\0") if name]
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and not SKIPPED_PARTS.intersection(path.relative_to(root).parts)
    ]


# --- the path evaluator ---------------------------------------------------------------------------


class PathEvaluator:
    """Works out, where it can, the path a Python expression built from ``__file__`` names.

    It follows ``Path(__file__)``, ``.resolve()``, ``.absolute()``, ``.parent``,
    ``.parents[N]``, ``/ "part"``, ``os.path.dirname`` and ``os.path.join``, and names assigned
    such a value at module level. Anything else is unknown (None), which is never a violation:
    the check is there to catch the way this repository builds its data paths, not to prove
    arbitrary code."""

    def __init__(self, source_file: Path) -> None:
        self.source_file = source_file
        self.names: dict[str, str] = {}

    def evaluate(self, node: ast.expr) -> str | None:
        """The absolute, normalised path *node* names, or None when it is not worked out here."""
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return str(self.source_file)
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            inner = self.evaluate(node.value)
            return None if inner is None else os.path.dirname(inner)
        if isinstance(node, ast.Subscript):
            return self.evaluate_parents(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self.join(node.left, [node.right])
        if isinstance(node, ast.Call):
            return self.evaluate_call(node)
        return None

    def evaluate_parents(self, node: ast.Subscript) -> str | None:
        """``X.parents[N]``: N + 1 folders up from X."""
        if not (isinstance(node.value, ast.Attribute) and node.value.attr == "parents"):
            return None
        if not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int)):
            return None
        path = self.evaluate(node.value.value)
        if path is None:
            return None
        for _ in range(node.slice.value + 1):
            path = os.path.dirname(path)
        return path

    def evaluate_call(self, node: ast.Call) -> str | None:
        """``Path(x)``, ``x.resolve()``, ``x.absolute()``, ``os.path.dirname``, ``os.path.join``."""
        function = node.func
        if isinstance(function, ast.Name) and function.id in {"Path", "PurePath"}:
            return self.join(node.args[0], node.args[1:]) if node.args else None
        if not isinstance(function, ast.Attribute):
            return None
        if function.attr in {"resolve", "absolute"} and not node.args:
            return self.evaluate(function.value)
        if ast.unparse(function) == "os.path.dirname" and len(node.args) == 1:
            inner = self.evaluate(node.args[0])
            return None if inner is None else os.path.dirname(inner)
        if ast.unparse(function) == "os.path.join" and node.args:
            return self.join(node.args[0], node.args[1:])
        return None

    def join(self, base: ast.expr, parts: list[ast.expr]) -> str | None:
        """*base* joined with constant string *parts* (``..`` included), normalised."""
        path = self.evaluate(base)
        if path is None:
            return None
        for part in parts:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                return None
            path = os.path.join(path, part.value)
        return os.path.normpath(path)


def reads_required_variable(node: ast.AST) -> bool:
    """``os.environ[NAME]`` read (not written): the code cannot run unless NAME is set."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and ast.unparse(node.value) == "os.environ"
    )


def paths_outside(source: str, source_file: Path, root: Path) -> list[str]:
    """Each place in *source* (the text of *source_file*) that builds a path outside *root*, or
    reads an environment variable that must be set, as ``line N: what``."""
    tree = ast.parse(source, filename=str(source_file))
    evaluator = PathEvaluator(source_file)
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = statement.value
            resolved = None if value is None else evaluator.evaluate(value)
            for target in targets:
                if isinstance(target, ast.Name) and resolved is not None:
                    evaluator.names[target.id] = resolved
    found = []
    root_text = str(root)
    for node in ast.walk(tree):
        if reads_required_variable(node):
            found.append(f"line {node.lineno}: {ast.unparse(node)} requires the variable")
            continue
        if not isinstance(node, ast.expr):
            continue
        resolved = evaluator.evaluate(node)
        if resolved is None:
            continue
        if resolved != root_text and not resolved.startswith(root_text + os.sep):
            found.append(f"line {node.lineno}: {ast.unparse(node)} is {resolved}")
    return found


# --- the repository -------------------------------------------------------------------------------


def test_no_tracked_file_names_the_folder_beside_the_checkout() -> None:
    """No tracked file names the sibling folder the project once read its spec and vectors from."""
    offenders = []
    for path in tracked_files(ROOT):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if SIBLING_PATTERN.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert [] == offenders


def test_no_python_file_builds_a_path_outside_the_checkout() -> None:
    """Every path a tracked Python file builds from ``__file__`` lies inside the checkout, and no
    file requires an environment variable to be set."""
    offenders = []
    for path in tracked_files(ROOT):
        if path.suffix != ".py" or not path.exists():
            continue
        for place in paths_outside(path.read_text(encoding="utf-8"), path, ROOT):
            offenders.append(f"{path.relative_to(ROOT)}: {place}")
    assert [] == offenders


PROVENANCE_ROW = re.compile(r"\| `([^`]+)` \|")
# The folders of HELM's files; each one's README.md is its provenance table.
PROVENANCE_FOLDERS = (HELM_DATA, ROOT / "src" / "helmmodel" / "kernel" / "data")


def provenance_rows(folder: Path) -> dict[str, str]:
    """The files the README.md of *folder* lists, each with the one sha256 its row records;
    each row must also name the source commit."""
    rows = {}
    for line in (folder / "README.md").read_text(encoding="utf-8").splitlines():
        match = PROVENANCE_ROW.match(line)
        if match is None or match.group(1) == "file":
            continue
        recorded = re.findall(r"`([0-9a-f]{64})`", line)
        assert 1 == len(recorded), f"{line}: one sha256"
        assert re.search(r"`[0-9a-f]{40}`", line), f"{line}: the row names the source commit"
        rows[match.group(1)] = recorded[0]
    return rows


@pytest.mark.parametrize("folder", PROVENANCE_FOLDERS, ids=lambda folder: folder.name)
def test_helm_vectors_are_the_bytes_their_provenance_names(folder: Path) -> None:
    """Each HELM file's sha256 is the one its provenance table gives, next to its source
    commit, and every file of the folder (but the README and the licence) has a row."""
    rows = provenance_rows(folder)
    present = {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.name not in {"README.md", "LICENSE"}
    }
    assert sorted(present) == sorted(rows)
    digests = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in rows}
    assert rows == digests


def test_helm_licence_and_notice_travel_with_the_data() -> None:
    """Apache-2.0 section 4: the licence's text sits beside the data and NOTICE credits HELM."""
    assert "Apache License" in (HELM_DATA / "LICENSE").read_text(encoding="utf-8")
    notice = (ROOT / "NOTICE").read_text(encoding="utf-8")
    assert "Copyright 2026 Mindburn Labs" in notice
    assert "tests/data/helm" in notice


def test_spec_is_the_repository_s_own_and_linked_from_the_readme() -> None:
    """docs/kernel-spec.md is in the repository and README.md links to it."""
    assert (ROOT / "docs" / "kernel-spec.md").is_file()
    assert "(docs/kernel-spec.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


# --- the checks themselves can fail ---------------------------------------------------------------

FAKE_ROOT = Path("/checkout")
FAKE_TEST = FAKE_ROOT / "tests" / "unit" / "test_x.py"


@pytest.mark.parametrize(
    "snippet",
    [
        "DATA = Path(__file__).resolve().parents[3] / 'vectors'",
        "REPO = Path(__file__).resolve().parents[2]\nV = REPO.parent / 'shared' / 'v.json'",
        "D = Path(__file__).parent / '..' / '..' / '..' / 'shared'",
        "D = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'x')",
        "D = Path(os.environ['HELM_SHARED'])",
    ],
)
def test_paths_outside_finds_each_way_out(snippet: str) -> None:
    """Each way of reaching past the checkout is reported."""
    assert paths_outside(snippet, FAKE_TEST, FAKE_ROOT) != []


@pytest.mark.parametrize(
    "snippet",
    [
        "REPO = Path(__file__).resolve().parents[2]",
        "D = Path(__file__).resolve().parents[1] / 'data' / 'helm' / 'v.json'",
        "D = Path(__file__).parent / '..' / 'fixtures'",
        "P = os.environ.get('HELMMODEL_PROFILE') or 'dev'",
        "P = Path(tmp) / '..' / '..' / 'anything'",
    ],
)
def test_paths_outside_accepts_paths_inside(snippet: str) -> None:
    """Paths inside the checkout, optional variables and paths not built from __file__ pass."""
    assert [] == paths_outside(snippet, FAKE_TEST, FAKE_ROOT)


def test_sibling_pattern_matches_both_separators() -> None:
    """The text check sees the sibling folder written with either separator."""
    assert SIBLING_PATTERN.search("read " + SIBLING_FOLDER + "/vectors")
    assert SIBLING_PATTERN.search("read ..\\shared\\vectors")
    assert not SIBLING_PATTERN.search("shared state between kernels")


def test_every_package_data_file_pyproject_names_is_where_it_says() -> None:
    """The wheel ships the files ``[tool.setuptools.package-data]`` names, looked up in each
    package's folder: a name that points nowhere ships nothing, silently (a trace schema missing
    from the wheel broke every trace read from an installed helmmodel)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = config["tool"]["setuptools"]["package-data"]
    missing = [
        f"{package}: {name}"
        for package, names in package_data.items()
        for name in names
        if not (ROOT / "src" / Path(*package.split(".")) / name).is_file()
    ]
    assert missing == []
