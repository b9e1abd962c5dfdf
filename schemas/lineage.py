"""Lineage: edges between variants and the graph around one of them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.common import EdgeSource, EdgeStatus, Relation


class LineageEdgePublic(BaseModel):
    child: str = Field(description="NAME@REVISION")
    parent: str = Field(description="NAME@REVISION")
    relation: Relation
    source: EdgeSource
    status: EdgeStatus
    score: float | None = None
    evidence: dict[str, Any] | None = None
    reason: str | None = Field(default=None, description="why a retracted edge was retracted")


class LineageNode(BaseModel):
    name: str
    revision: str
    digest: str | None
    depth: int = Field(description="steps from the root: negative up (ancestors), positive down")
    registered: bool = True


class LineageGraph(BaseModel):
    root: str
    direction: Literal["up", "down", "both"] = "both"
    depth: int
    nodes: list[LineageNode]
    edges: list[LineageEdgePublic]
    truncated: bool = Field(
        default=False, description="true when the depth or page limit cut the walk short"
    )
    next_cursor: str | None = Field(default=None, description="more descendants: pass as cursor")
    note: str | None = Field(default=None, description="how a name without @REV was resolved")
