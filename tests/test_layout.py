"""The package's shape: imports across packages use only public names, no import goes up the
stage order, and no modules import each other in a cycle (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import talkinghead

SOURCE = Path(talkinghead.__file__).parent
# The data flow, bottom up: a package may import its own tier and those below it.
TIERS = {
    "talkinghead.errors": 0,
    "talkinghead.inputs": 0,
    "talkinghead._version": 0,
    "talkinghead.signatures": 0,
    "talkinghead.speech": 1,
    "talkinghead.portrait": 1,
    "talkinghead.motion": 2,
    "talkinghead.render": 3,
    "talkinghead.media": 4,
    "talkinghead.avatar": 5,
    "talkinghead": 6,  # the API: generate, analyze, GenerateRequest (the root package's own modules)
    "talkinghead.stream": 7,
    "talkinghead.service": 8,
    "talkinghead.client": 8,
    "talkinghead.deploy": 8,  # the serverless jobs of RunPod and Modal
    "talkinghead.cli": 9,
    "talkinghead.__main__": 9,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str) -> str:
    """The tier a module belongs to: the longest entry of TIERS that holds it."""
    return max((name for name in TIERS if module == name or module.startswith(name + ".")), key=len)


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, lazy ones included; `from X import
    name` counts as X.name when that is a module of the package, else X."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.startswith("talkinghead")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.startswith("talkinghead"):
                target = node.module
            else:
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                is_module = (SOURCE.parent / Path(*candidate.split("."))).with_suffix(".py").exists() or (SOURCE.parent / Path(*candidate.split("."))).is_dir()
                found.append((candidate if is_module else target, node.lineno))
    return found


def _graph() -> dict[str, list[tuple[str, int]]]:
    return {_module_name(path): _imports(path, _module_name(path)) for path in sorted(SOURCE.rglob("*.py"))}


def test_packages_import_only_public_names_of_other_packages():
    wrong = []
    for module, imports in _graph().items():
        home = _package_of(module)
        for target, line in imports:
            there = _package_of(target)
            private = any(part.startswith("_") for part in target[len(there) :].split(".") if part)
            if there != home and private:
                wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_goes_up_the_stage_order():
    wrong = []
    for module, imports in _graph().items():
        home = _package_of(module)
        for target, line in imports:
            if TIERS[_package_of(target)] > TIERS[home]:
                wrong.append(f"{module}:{line} ({home}) imports {target} ({_package_of(target)})")
    assert not wrong, "\n".join(wrong)


def test_no_modules_import_each_other_in_a_cycle():
    graph = {module: {target for target, _ in imports if target != module} for module, imports in _graph().items()}
    # A package's __init__ re-exports its modules: importing the package is not an edge back to them.
    cycles = []
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if target not in graph or module.startswith(target + "."):
                continue
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target) :] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)
