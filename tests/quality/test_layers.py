"""The import graph keeps the layers of docs/architecture.md: every arrow points down, no package
has an import circle among its modules, and the package never imports the machines.

The contracts are import-linter's, declared in pyproject.toml ``[tool.importlinter]``; the graph
is grimp's. A toy package shows that the same kinds of contract do turn red."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's command on *config*, from *cwd* (which goes on the import path)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), str(ROOT / "src")])}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_project_keeps_every_import_contract() -> None:
    """Layers, no circles, no import of the machines: every contract of pyproject.toml is kept."""
    result = lint_imports(ROOT / "pyproject.toml", ROOT)
    assert 0 == result.returncode, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def write_package(root: Path, modules: dict[str, str]) -> None:
    """Write the modules of a toy package ``toy`` under *root*."""
    package = root / "toy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, body in modules.items():
        (package / f"{name}.py").write_text(textwrap.dedent(body))


def test_the_same_contracts_turn_red_on_an_upward_arrow_and_a_circle(tmp_path: Path) -> None:
    """A low layer importing a high one, and two modules importing each other, break both kinds."""
    write_package(
        tmp_path,
        {
            "high": "X = 1\n",
            "low": "from toy import high\n",  # an arrow up a layer
            "first": "from toy import second\n",
            "second": "from toy import first\n",  # a circle
        },
    )
    config = tmp_path / "contracts.toml"
    config.write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_packages = ["toy"]

            [[tool.importlinter.contracts]]
            name = "layers"
            type = "layers"
            layers = ["toy.high", "toy.low"]

            [[tool.importlinter.contracts]]
            name = "circles"
            type = "acyclic_siblings"
            ancestors = ["toy"]
            """
        )
    )
    result = lint_imports(config, tmp_path)
    assert 1 == result.returncode, result.stdout + result.stderr
    assert "0 kept, 2 broken" in result.stdout


def contract_layers() -> list[set[str]]:
    """The layers of pyproject.toml's layers contract, top first; siblings share a set."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    return [{name.strip() for name in layer.split("|")} for layer in layers]


def pictured_layers(text: str) -> list[str]:
    """The package names of the picture in docs/architecture.md, in the order it declares them."""
    block = text.split("```mermaid", 1)[1].split("```", 1)[0]
    return re.findall(r'^\s*\w+\["(helmmodel[\w.]*)', block, flags=re.M)


def test_the_architecture_picture_shows_the_contract_s_layers_in_order() -> None:
    """docs/architecture.md's picture declares exactly the contract's layers, top first."""
    pictured = pictured_layers((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    layers = contract_layers()
    grouped = []
    position = 0
    for layer in layers:
        grouped.append(set(pictured[position : position + len(layer)]))
        position += len(layer)
    assert layers == grouped
    assert position == len(pictured)


def test_pictured_layers_reads_the_mermaid_nodes() -> None:
    """The picture reader finds node labels that name a package, in order, and nothing else."""
    text = 'x\n```mermaid\nflowchart TB\n  a["helmmodel.cli<br/>x"]\n  m["machines/"]\n'
    text += '  b["helmmodel.kernel"]\n  a --> b\n```\n'
    assert ["helmmodel.cli", "helmmodel.kernel"] == pictured_layers(text)
