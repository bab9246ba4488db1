"""The launcher behind the `services` and `services3` fixtures: one Service
per cart-service or order-service process started from ORDERSTREAM_BIN_DIR,
with sanitizer options that turn any report into a failure (the API is
described in conftest.py's docstring)."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from e2e_base import ROOT, free_port, unique

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")
_counter = itertools.count(1)


def _bin_dir() -> Path:
    env = os.environ.get("ORDERSTREAM_BIN_DIR")
    if env:
        p = Path(env)
        return p if p.is_absolute() else ROOT / p
    asan = ROOT / "build-asan"
    if (asan / "cart-service").exists() or (asan / "order-service").exists():
        return asan
    return ROOT / "build"


def sanitizer_env() -> dict:
    # exitcode values are unusual on purpose: a sanitizer exit is recognisable.
    return {
        "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:"
                        "detect_stack_use_after_return=1:check_initialization_order=1:"
                        "strict_string_checks=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=87",
        "LSAN_OPTIONS": f"suppressions={ROOT / 'tests' / 'e2e' / 'lsan.supp'}:print_suppressions=0",
    }


class Service:
    """One running cart-service or order-service process."""

    def __init__(self, name: str, binary: Path, env: dict, port: int, log: Path):
        self.name = name
        self.binary = binary
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._killed = False

    def _spawn(self) -> None:
        self._killed = False
        with open(self.log, "ab") as logf:
            logf.write(f"---- start {time.strftime('%H:%M:%S')} ----\n".encode())
            logf.flush()
            self.proc = subprocess.Popen([str(self.binary)], env=self.env, stdout=logf,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=ROOT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"{self.name}-service exited with {self.proc.returncode} "
                            f"before /health; log {self.log}:\n{self._tail()}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"{self.name}-service not healthy after {timeout}s; log {self.log}:\n"
                    f"{self._tail()}")

    def check_log_clean(self) -> None:
        text = self.log_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                pytest.fail(f"{self.name}-service: sanitizer report in {self.log}:\n"
                            f"{self._tail(80)}")

    def stop(self, timeout: float = 30.0) -> int:
        """Graceful stop; the service must exit 0 with no sanitizer report."""
        if self.proc is None:
            return 0
        if self._killed:  # a deliberate SIGKILL: no exit status to judge
            self._killed = False
            self.check_log_clean()
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"{self.name}-service ignored SIGTERM for {timeout}s; log "
                            f"{self.log}:\n{self._tail()}")
        rc = self.proc.returncode
        self.check_log_clean()
        if rc != 0:
            pytest.fail(f"{self.name}-service exited with {rc} (expected 0); log {self.log}:\n"
                        f"{self._tail()}")
        return rc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self._killed = True

    def restart(self, env: dict | None = None, wait: bool = True) -> None:
        self.stop()
        if env:
            self.env.update({k: str(v) for k, v in env.items()})
        self._spawn()
        if wait:
            self.wait_healthy()

    def get(self, path: str, **kw):
        kw.setdefault("timeout", 10)
        return requests.get(self.url + path, **kw)

    def post(self, path: str, **kw):
        kw.setdefault("timeout", 10)
        return requests.post(self.url + path, **kw)

    def put(self, path: str, **kw):
        kw.setdefault("timeout", 10)
        return requests.put(self.url + path, **kw)


class Services:
    """Factory for the `services` fixture (see the module docstring)."""

    def __init__(self, stack, test_name: str):
        self.stack = stack
        self.topic = unique("order-events")
        self.dlq_topic = self.topic + "-dlq"
        self.group = unique("order-service")
        self._dir = stack.dir / "services"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._test = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:80]
        self.started: list[Service] = []

    def start(self, name: str, env: dict | None = None, port: int | None = None,
              wait: bool = True) -> Service:
        if name not in ("cart", "order"):
            raise ValueError(f"unknown service {name!r}")
        binary = _bin_dir() / f"{name}-service"
        if not binary.exists():
            msg = f"{binary} is not built"
            if os.environ.get("ORDERSTREAM_REQUIRE_BINARIES") == "1":
                pytest.fail(msg)
            pytest.skip(msg)
        port = port or free_port()
        n = next(_counter)
        full_env = dict(os.environ)
        full_env.update(sanitizer_env())
        full_env.update({
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.bootstrap,
            "SCHEMA_REGISTRY_URL": self.stack.registry_url,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(port),
            "ORDER_EVENTS_TOPIC": self.topic,
            "DLQ_TOPIC": self.dlq_topic,
            "CONSUMER_GROUP_ID": self.group,
            "STORE_PATH": str(self._dir / f"{self._test}-{n}-order.db"),
            "LOG_LEVEL": "info",
        })
        full_env.update({k: str(v) for k, v in (env or {}).items()})
        svc = Service(name, binary, full_env, port, self._dir / f"{self._test}-{n}-{name}.log")
        svc._spawn()
        self.started.append(svc)
        if wait:
            svc.wait_healthy()
        return svc

    def stop_all(self) -> None:
        errors = []
        for svc in reversed(self.started):
            try:
                svc.stop()
            except pytest.fail.Exception as e:  # report all, then fail once
                errors.append(str(e))
        if errors:
            pytest.fail("\n\n".join(errors))
