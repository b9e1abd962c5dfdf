"""Lineage graphs for people (a rich tree) and for tools (Graphviz dot, Mermaid)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

from rich.markup import escape
from rich.tree import Tree

from cli.output import Line, Raw, View
from schemas import LineageEdgePublic, LineageGraph

_STATUS_STYLE = {
    "verified": "green",
    "disputed": "red",
    "detected": "cyan",
    "unverified": "dim",
    "retracted": "strike dim",
}


def _edge_label(edge: LineageEdgePublic) -> str:
    score = f" {edge.score:.3f}" if edge.score is not None else ""
    style = _STATUS_STYLE.get(edge.status, "")
    why = f" [dim](reason: {escape(edge.reason)})[/]" if edge.reason else ""
    return f"[{style}]{edge.relation}, {edge.source}/{edge.status}{score}[/]{why}"


def render_tree(graph: LineageGraph) -> Tree:
    """A rich tree: ancestors above the root, descendants below, repeats marked."""
    digests = {f"{n.name}@{n.revision}": n for n in graph.nodes}
    parents_of: dict[str, list[LineageEdgePublic]] = defaultdict(list)
    children_of: dict[str, list[LineageEdgePublic]] = defaultdict(list)
    for e in graph.edges:
        parents_of[e.child].append(e)
        children_of[e.parent].append(e)

    def label(ref: str) -> str:
        node = digests.get(ref)
        if node is None or not node.registered:
            return f"[bold]{ref}[/] [yellow](known only by name)[/]"
        return f"[bold]{ref}[/] [dim]{(node.digest or '')[:19]}[/]"

    root = Tree(label(graph.root))

    def grow(branch: Tree, ref: str, step: dict, pick: str, seen: set[str]) -> None:
        for edge in sorted(step.get(ref, []), key=lambda e: getattr(e, pick)):
            other = getattr(edge, pick)
            if other in seen:
                branch.add(f"{label(other)} {_edge_label(edge)} [dim](shown above)[/]")
                continue
            seen.add(other)
            grow(branch.add(f"{label(other)} {_edge_label(edge)}"), other, step, pick, seen)

    if graph.direction in ("up", "both") and parents_of.get(graph.root):
        grow(root.add("[italic]ancestors[/]"), graph.root, parents_of, "parent", {graph.root})
    if graph.direction in ("down", "both") and children_of.get(graph.root):
        grow(root.add("[italic]descendants[/]"), graph.root, children_of, "child", {graph.root})
    return root


def tree_view(graph: LineageGraph) -> Iterable[Line]:
    yield render_tree(graph)
    if graph.truncated:
        more = f" --cursor {graph.next_cursor}" if graph.next_cursor else ""
        yield f"[dim]… more lineage beyond this view (raise --depth or --limit{more})[/]"


_DOT_STYLE = {
    "verified": 'style=solid, color="darkgreen"',
    "unverified": "style=dashed",
    "disputed": 'style=bold, color="red"',
    "detected": 'style=dotted, color="blue"',
    "retracted": 'style=dotted, color="gray"',
}


def render_dot(graph: LineageGraph) -> str:
    """Graphviz dot; edges point from parent to child."""
    lines = ["digraph lineage {", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];']
    for n in graph.nodes:
        ref = f"{n.name}@{n.revision}"
        extra = ", penwidth=2" if ref == graph.root else ""
        extra += ', style=dashed, color="gray"' if not n.registered else ""
        lines.append(f"  {json.dumps(ref)} [label={json.dumps(ref)}{extra}];")
    for e in graph.edges:
        label = json.dumps(f"{e.relation} ({e.source}/{e.status})")
        lines.append(
            f"  {json.dumps(e.parent)} -> {json.dumps(e.child)} "
            f"[label={label}, {_DOT_STYLE.get(e.status, '')}];"
        )
    lines.append("}")
    return "\n".join(lines)


def render_mermaid(graph: LineageGraph) -> str:
    """A Mermaid flowchart; dashed arrows for edges not yet verified."""
    ids = {f"{n.name}@{n.revision}": f"n{i}" for i, n in enumerate(graph.nodes)}
    lines = ["graph TD"]
    for ref, node_id in ids.items():
        lines.append(f'  {node_id}["{ref}"]')
    for e in graph.edges:
        arrow = "-->" if e.status in ("verified", "detected") else "-.->"
        label = f"{e.relation} ({e.status})"
        lines.append(f"  {ids[e.parent]} {arrow}|{label}| {ids[e.child]}")
    if graph.root in ids:
        lines.append(f"  style {ids[graph.root]} stroke-width:3px")
    return "\n".join(lines)


def dot_view(graph: LineageGraph) -> Iterable[Line]:
    yield Raw(render_dot(graph) + "\n")


def mermaid_view(graph: LineageGraph) -> Iterable[Line]:
    yield Raw(render_mermaid(graph) + "\n")


GRAPH_FORMS: dict[str, View] = {"dot": dot_view, "mermaid": mermaid_view}
