"""The house by layers: every module of model/, codegen/ and host/ imports only its own layer or lower ones,
and no two modules import each other, directly or around a loop (function-local imports included).

Layers, lowest first (docs/architecture.md describes them):
  ground floor  facts, errors, paths, labels, audio I/O, JSON output, the C toolchain, the instruction runner
  training      the rest of model/
  codegen       codegen/ (export, and the only reader of its manifest)
  board         host/: talking to a board
  measurement   the rest of host/ (evaluate, bench, streaming quality, fuzz, soak, demo)
Imports sit at the top of a file; a function-local import is only for a heavy optional dependency
(DEFERRABLE below) that the file defers on purpose, or inside a `try` that handles its absence.
"""
from __future__ import annotations

import ast
from pathlib import Path

from model.paths import REPO_ROOT

PACKAGES = ("model", "codegen", "host")
GROUND = {"model.facts", "model.errors", "model.paths", "model.labels", "model.audio", "model.jsonout",
          "model.toolchain", "model.m4run"}
BOARD = {"host.protocol", "host.board", "host.emulator", "host.connect", "host.listen", "host.listen_views",
         "host.audio_input", "host.detector", "host.fuzz_traffic"}
LAYERS = ("ground floor", "training", "codegen", "board", "measurement")
DEFERRABLE = {"tinygrad", "matplotlib", "unicorn", "elftools", "serial", "sounddevice", "soxr", "rich", "tqdm"}


def layer(module: str) -> int:
    """Index in LAYERS of a project module."""
    if module in GROUND or module in PACKAGES:
        return 0
    if module.startswith("model."):
        return 1
    if module.startswith("codegen."):
        return 2
    return 3 if module in BOARD else 4


def modules(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Dotted name -> file of every module in PACKAGES."""
    return {f"{pkg}.{p.stem}" if p.stem != "__init__" else pkg: p
            for pkg in PACKAGES for p in sorted((root / pkg).glob("*.py"))}


def imports(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level or in a `try`) of every import."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body}
    top |= {id(node) for t in ast.walk(tree) if isinstance(t, ast.Try) for node in t.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                while name not in known and "." in name:
                    name = name.rsplit(".", 1)[0]
            out.append((name, node.lineno, id(node) in top))
    return out


def graph() -> dict[str, dict[str, int]]:
    """module -> {imported project module: line}."""
    mods = modules()
    known = set(mods)
    return {m: {name: line for name, line, _ in imports(p, known) if name in known and name != m} for m, p in mods.items()}


def upward_imports(g: dict[str, dict[str, int]]) -> list[str]:
    return [f"{modules()[m].relative_to(REPO_ROOT)}:{line}: {m} ({LAYERS[layer(m)]}) imports {dep} ({LAYERS[layer(dep)]})"
            for m, deps in sorted(g.items()) for dep, line in sorted(deps.items()) if layer(dep) > layer(m)]


def loops(g: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import loops: strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_imports_only_go_down():
    assert upward_imports(graph()) == []


def test_no_import_loops():
    assert loops(graph()) == []


def test_imports_are_at_the_top_of_files():
    mods = modules()
    local = [f"{p.relative_to(REPO_ROOT)}:{line}: {name}" for p in mods.values()
             for name, line, at_top in imports(p, set(mods))
             if not at_top and name.split(".")[0] not in DEFERRABLE]
    assert local == []


def test_the_checks_see_an_upward_import_and_a_loop():
    g = {"model.facts": {"host.bench": 1}, "host.bench": {"model.facts": 2}, "codegen.a": {"codegen.b": 1},
         "codegen.b": {"codegen.a": 3}}
    assert len(upward_imports({m: {} for m in modules()} | {"model.facts": {"host.bench": 1}})) == 1
    assert sorted(loops(g)) == [["codegen.a", "codegen.b"], ["host.bench", "model.facts"]]
    assert [layer(m) for m in ("model.facts", "model.train", "codegen.generate", "host.board", "host.bench")] == [0, 1, 2, 3, 4]
