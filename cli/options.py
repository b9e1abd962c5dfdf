"""Options shared by many commands."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOption = Annotated[
    bool, typer.Option("--json", help="print exactly one JSON document on stdout")
]
