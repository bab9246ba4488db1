"""Small helpers every end-to-end module shares: the repository root, unique
names, polling, free ports. conftest.py re-exports them, so tests keep
importing `from conftest import unique, wait_for`."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

def unique(prefix: str) -> str:
    """A name unique within this test run and across runs (short uuid)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(fn, timeout: float = 30.0, interval: float = 0.2):
    """Poll fn() until it returns a truthy value; the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
