"""Write one benchmark's section of BENCHMARKS.md, replacing it in place.

Each benchmark owns the section under its ``## `` heading, so benchmarks can be re-run one at a
time without touching the others. Every section records the exact command, the machine, the date
and a table of figures, each with its target and whether the target is met.
"""

from __future__ import annotations

import fcntl
import os
import platform
import re
import shlex
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPORT_PATH = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_PREAMBLE = """# Benchmarks

Written by the scripts under `benchmarks/` (`make bench` runs them all); each section is replaced
in place when its benchmark runs again. Figures come from the machine named in each section:
compare them across machines with care.
"""


@dataclass(frozen=True)
class Figure:
    """One measured figure with its target; ``met`` is None when there is no target."""

    name: str
    value: str
    target: str = "-"
    met: bool | None = None


# environment variables that change what a benchmark measures, so the command records them
_RECORDED_ENV = ("PGOPTIONS", "PROVREG_HASH_WORKERS")


def command_line(module: str) -> str:
    """The command that ran this benchmark, as a user would type it (with relevant env vars)."""
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in _RECORDED_ENV if os.environ.get(k)]
    return " ".join([*env, "python", "-m", module, *(shlex.quote(a) for a in sys.argv[1:])])


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, to show how busy the shared machine was."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# taken when a benchmark imports this module, i.e. as it starts
_LOAD_AT_START = load_average()


def postgres_version(admin_url: str = DEFAULT_PG_ADMIN_URL) -> str:
    """The PostgreSQL server's version string, or why it could not be read."""
    try:
        import psycopg

        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "unknown"
    except Exception as exc:  # any failure only makes the report say so
        return f"unavailable ({type(exc).__name__})"


def machine(pg_admin_url: str = DEFAULT_PG_ADMIN_URL) -> list[tuple[str, str]]:
    """The facts about this machine that every section records."""
    return [
        ("CPU", _cpu_model()),
        ("Cores", str(os.cpu_count() or "unknown")),
        ("RAM", _ram_gib()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PostgreSQL server", postgres_version(pg_admin_url)),
        ("Load average 1/5/15 min, at start", _LOAD_AT_START),
        ("Load average 1/5/15 min, at end", load_average()),
    ]


def figures_table(figures: Iterable[Figure]) -> str:
    """A Markdown table: figure, value, target, met."""
    lines = ["| Figure | Value | Target | Met |", "|---|---:|---:|:---:|"]
    for f in figures:
        met = "-" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.name} | {f.value} | {f.target} | {met} |")
    return "\n".join(lines)


def markdown_table(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    """A plain Markdown table for details that have no target."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_section(
    title: str,
    *,
    command: str,
    figures: Iterable[Figure],
    summary: str = "",
    details: str = "",
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL,
) -> str:
    facts = machine(pg_admin_url)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"## {title}", ""]
    if summary:
        parts += [summary.strip(), ""]
    parts += [f"- Command: `{command}`", f"- Date: {date}"]
    parts += [f"- {k}: {v}" for k, v in facts]
    parts += ["", figures_table(figures), ""]
    if details:
        parts += [details.strip(), ""]
    return "\n".join(parts)


def write_section(
    title: str,
    *,
    command: str,
    figures: Iterable[Figure],
    summary: str = "",
    details: str = "",
    path: Path = REPORT_PATH,
    pg_admin_url: str = DEFAULT_PG_ADMIN_URL,
) -> Path:
    """Replace (or append) the section headed ``## title`` in ``path``; returns ``path``.

    A lock on the file keeps two benchmarks finishing at once from losing each other's section.
    """
    section = render_section(
        title,
        command=command,
        figures=figures,
        summary=summary,
        details=details,
        pg_admin_url=pg_admin_url,
    )
    path.touch(exist_ok=True)
    with path.open("r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        text = fh.read() or _PREAMBLE
        pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _m: section + "\n", text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        text = text.rstrip("\n") + "\n"
        fh.seek(0)
        fh.write(text)
        fh.truncate()
    return path
