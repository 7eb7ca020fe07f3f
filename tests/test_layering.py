"""The layering of the code, read from its imports (ast): consensus knows nothing of the node or RPC; the node's core
parts never import RPC (only the command line and the in-process testing kit serve it); no import cycles between
modules. Every import counts, those inside functions too: a lazy import is still an edge."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("consensus", "node", "rpc")

# (importer prefix, forbidden imported prefix, why)
FORBIDDEN = [
    ("consensus", "node", "consensus rules are pure: the node passes them what they need"),
    ("consensus", "rpc", "consensus knows no transport"),
    ("node.chain", "rpc", "the chain is below RPC"),
    ("node.txpool", "rpc", "the pool is below RPC"),
    ("node.execution", "rpc", "execution is below RPC"),
    ("node.network", "rpc", "peers are below RPC"),
    ("node.dev", "rpc", "dev controls are below RPC"),
    ("node.node", "rpc", "the node does not know who serves it"),
    ("node.producer", "rpc", "the producer does not know who serves it"),
    ("node.chain", "node.txpool", "the chain does not know the pool"),
    ("node.chain", "node.execution", "the chain does not know RPC-time execution"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports (a `from package import module` names the module)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, set(known)) for name, path in known.items()}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("importer, imported, why", FORBIDDEN)
def test_no_forbidden_edge(graph, importer, imported, why):
    edges = sorted(f"{a} -> {b}" for a, targets in graph.items() if _under(a, importer)
                   for b in targets if _under(b, imported) and not _under(b, importer))
    assert not edges, f"{why}: " + ", ".join(edges)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles(graph):
    # a package's __init__ that re-exports its modules is not a cycle with them
    plain = {a: {b for b in targets if not (graph_is_package(a) and _under(b, a))} for a, targets in graph.items()}
    assert cycles(plain) == []


def graph_is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").exists()


def test_the_checker_sees_a_forbidden_edge_and_a_cycle():
    """The rules above would fail on the edges they forbid (so an empty answer means something)."""
    graph = {"consensus.engine": {"node.chain.store"}, "node.chain.store": {"node.chain.db"},
             "node.chain.db": {"node.chain.store"}}
    assert cycles(graph) == [["node.chain.db", "node.chain.store"]]
    edges = [b for a, targets in graph.items() if _under(a, "consensus") for b in targets if _under(b, "node")]
    assert edges == ["node.chain.store"]
