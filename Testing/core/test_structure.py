"""Checks that keep the layout of docs/architecture.md: one .py at the module folder's root (Slicer
registers each as a module), CMake's SCRIPTS and RESOURCES equal the files on disk, no import cycles
(read with ast, function-level imports included), and a core that imports without slicer or vtk."""

from __future__ import annotations

import ast
import fnmatch
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "ISCMAssist"
PACKAGE = "ISCMAssistLib"


def _files_on_disk() -> set[str]:
    """Every file under the module folder (relative, "/"-separated), caches and CMakeLists.txt aside."""
    return {path.relative_to(MODULE_DIR).as_posix() for path in MODULE_DIR.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
            and path.name != "CMakeLists.txt" and not _is_install_metadata(path)}


def _is_install_metadata(path: Path) -> bool:
    """True for what `pip install -e .` writes beside the package (git-ignored *.egg-info)."""
    return any(part.endswith(".egg-info") for part in path.relative_to(MODULE_DIR).parts)


def test_the_module_folder_root_holds_exactly_one_python_file():
    at_root = sorted(path.name for path in MODULE_DIR.glob("*.py"))
    assert at_root == ["ISCMAssist.py"], (
        f"Slicer registers every .py at {MODULE_DIR.name}/ as a module; move {at_root} into {PACKAGE}/")
    assert sorted(path.name for path in MODULE_DIR.iterdir() if path.is_dir() and path.name != "__pycache__"
                  and not _is_install_metadata(path)) == [PACKAGE, "Resources"]


# ---------------------------------------------------------------------- CMake lists


def _cmake_lists(text: str) -> dict[str, list[str]]:
    """Evaluate the set(), file(GLOB_RECURSE ...) and list(FILTER ... EXCLUDE REGEX ...) commands of a
    module CMakeLists.txt; return variable name -> list of relative paths."""
    text = re.sub(r"#[^\n]*", "", text)
    variables: dict[str, list[str]] = {"MODULE_NAME": []}

    def expand(items: list[str]) -> list[str]:
        out = []
        for item in items:
            whole = re.fullmatch(r"\$\{(\w+)\}", item)
            if whole and whole.group(1) != "MODULE_NAME":
                out.extend(variables[whole.group(1)])
            else:
                out.append(item.replace("${MODULE_NAME}", variables["MODULE_NAME"][0]))
        return out

    for command, body in re.findall(r'(\w+)\s*\(((?:"[^"]*"|[^)"])*)\)', text):
        words = re.findall(r'"[^"]*"|\S+', body)
        if command == "set":
            variables[words[0]] = expand(words[1:]) if words[0] != "MODULE_NAME" else words[1:]
        elif command == "file" and words[0] == "GLOB_RECURSE":
            patterns = [w for w in words[2:] if w not in ("RELATIVE", "CONFIGURE_DEPENDS", "${CMAKE_CURRENT_SOURCE_DIR}")]
            files = sorted(_files_on_disk())
            # in GLOB_RECURSE a * also matches across folders, like fnmatch's
            variables[words[1]] = [f for f in files if any(fnmatch.fnmatchcase(f, p) for p in patterns)]
        elif command == "list" and words[0] == "FILTER" and words[2:4] == ["EXCLUDE", "REGEX"]:
            pattern = words[4].strip('"').replace("\\\\", "\\")
            variables[words[1]] = [f for f in variables[words[1]] if not re.search(pattern, f)]
    return variables


def test_cmake_scripts_and_resources_equal_the_files_on_disk():
    lists = _cmake_lists((MODULE_DIR / "CMakeLists.txt").read_text("utf-8"))
    scripts, resources = set(lists["MODULE_PYTHON_SCRIPTS"]), set(lists["MODULE_PYTHON_RESOURCES"])
    disk = _files_on_disk()
    assert scripts == {f for f in disk if f.endswith(".py")}, "SCRIPTS differ from the .py files on disk"
    assert resources == {f for f in disk if not f.endswith(".py")}, "RESOURCES differ from the other files on disk"
    assert "ISCMAssist.py" in scripts and f"{PACKAGE}/scene/logic.py" in scripts
    assert f"{PACKAGE}/schema/case.schema.json" in resources and "Resources/UI/ISCMAssist.ui" in resources


# ---------------------------------------------------------------------- import cycles


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(MODULE_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_imports() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its body (relative imports resolved)."""
    paths = {_module_name(path): path for path in MODULE_DIR.rglob("*.py") if "__pycache__" not in path.parts}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                submodules = {f"{base}.{alias.name}" for alias in node.names} & set(paths)
                targets.update(submodules)
                if len(submodules) < len(node.names):  # a name defined in the module itself
                    targets.add(base)
        graph[name] = {target for target in targets if target in paths and target != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_project_has_no_import_cycles():
    graph = _project_imports()
    assert f"{PACKAGE}.images" in graph[f"{PACKAGE}.demo"] and f"{PACKAGE}.ingest" in graph[f"{PACKAGE}.images"]
    assert not _cycles(graph), f"import cycles: {_cycles(graph)}"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# ---------------------------------------------------------------------- the core without slicer

_BLOCKED_IMPORT = r"""
import importlib, pkgutil, sys
sys.path.insert(0, {module_dir!r})
BLOCKED = ("slicer", "vtk", "vtkmodules", "qt", "ctk", "trame_slicer")

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked: the core must not need it")
        return None

sys.meta_path.insert(0, Blocker())
import ISCMAssistLib
# The scene layer and the web front end need Slicer's MRML; their package files must not.
FRONT = ("ISCMAssistLib.scene.", "ISCMAssistLib.web.")
names = ["ISCMAssistLib.scene", "ISCMAssistLib.web"] + [
    info.name for info in pkgutil.walk_packages(ISCMAssistLib.__path__, "ISCMAssistLib.")
    if not info.name.startswith(FRONT)]
for name in names:
    importlib.import_module(name)
assert not [name for name in sys.modules if name.split(".")[0] in BLOCKED]
print(len(names))
"""


def test_the_core_imports_with_slicer_and_vtk_blocked():
    code = _BLOCKED_IMPORT.format(module_dir=str(MODULE_DIR))
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) >= 30  # every core module, the commands and cli
