"""Documentation stays true to the code: every configuration variable a binary
knows (its --help) is in the README's reference, and every route a service
serves is in docs/openapi.yaml (which the services also serve)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from conftest import _bin_dir

ROOT = Path(__file__).resolve().parents[2]


def help_vars(binary: Path) -> set[str]:
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return set(re.findall(r"^  ([A-Z][A-Z0-9_]+(?:<NAME>)?)", out.stdout, re.M))


def test_readme_lists_every_variable():
    readme = (ROOT / "README.md").read_text()
    for svc in ("cart-service", "order-service"):
        names = help_vars(Path(_bin_dir()) / svc)
        assert len(names) > 10, names
        missing = [n for n in names if f"`{n}`" not in readme]
        assert not missing, f"{svc}: README lacks {missing}"


def test_openapi_lists_every_served_route(services):
    spec = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    paths = spec["paths"]
    for name in ("cart", "order"):
        svc = services.start(name)
        for p in paths:
            r = svc.get(p)
            tag = (next(iter(paths[p].values())).get("tags") or ["both"])[0]
            if tag in (name, "both"):
                assert r.status_code != 404, f"{name}-service does not serve {p}"
            else:
                assert r.status_code == 404, f"{name}-service serves {p}, undocumented for it"
