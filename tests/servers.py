"""A real `provreg serve` on a free loopback port, for tests that talk to it as a client would."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

PROVREG = shutil.which("provreg", path=str(Path(sys.executable).parent)) or "provreg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str], program: str = PROVREG) -> Iterator[str]:
    """Start `provreg serve` (``program``) with ``env``, wait until it answers, yield its URL,
    stop it."""
    port = free_port()
    proc = subprocess.Popen(
        [program, "serve", "--port", str(port), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = False
        deadline = time.monotonic() + 60  # a loaded machine can take long to import
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = requests.get(f"{url}/v1/health", timeout=1).ok
            except requests.ConnectionError:
                time.sleep(0.05)
            if ready:
                break
        if not ready:
            proc.terminate()  # before reading its stderr, which a live server never closes
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"provreg serve did not start: {err}")
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
