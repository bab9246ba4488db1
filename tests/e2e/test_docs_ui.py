"""GET /docs, the interactive API page, in a real headless Chromium (Debian's
chromium and chromium-driver, driven through Selenium):

- cart-service's page loads the served /openapi.yaml, lists every operation
  the spec gives cart-service (its tag, or none), and a create-order issued
  from the page (Try it out -> Execute) answers 201 on the page's own origin;
- order-service's page loads and lists its operations;
- without the assets (DOCS_UI_DIR pointing nowhere) the service runs and
  /docs answers a 503 JSON that says how to install them;
- scripts/fetch-docs-ui.sh refuses a tarball that does not match the pinned
  integrity, installing nothing.
"""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import unique
from order_e2e import wait_for

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
METHODS = ("get", "put", "post", "delete", "patch")


def spec_operations(service: str) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation the spec gives this service."""
    ops = set()
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method in METHODS and (not op.get("tags") or service in op["tags"]):
                ops.add((method.upper(), path))
    return ops


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as DriverService
    except ImportError:
        pytest.fail("selenium missing from the venv: run scripts/deps.sh test")
    chromium = shutil.which("chromium")
    driver_exe = shutil.which("chromedriver")
    assert chromium and driver_exe, \
        "chromium / chromium-driver not installed: run scripts/deps.sh test"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,2000"):
        opts.add_argument(arg)
    # Debian's driver, named explicitly: Selenium must not try to fetch one
    drv = webdriver.Chrome(service=DriverService(executable_path=driver_exe), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def listed_operations(drv) -> set[tuple[str, str]]:
    from selenium.webdriver.common.by import By
    ops = set()
    for block in drv.find_elements(By.CSS_SELECTOR, ".opblock"):
        method = block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.strip()
        path = block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute(
            "data-path")
        ops.add((method.upper(), path))
    return ops


def open_docs(drv, svc, service: str) -> set[tuple[str, str]]:
    """Loads svc's /docs and waits until every expected operation is listed."""
    want = spec_operations(service)
    drv.get(svc.url + "/docs")
    assert "API" in drv.title
    got = wait_for(lambda: (ops := listed_operations(drv)) == want and ops, 60, 0.5,
                   what=f"{service}'s operations on the page")
    # the page's spec is the one the service serves, on its own origin
    from selenium.webdriver.common.by import By
    servers = drv.find_element(By.CSS_SELECTOR, ".servers select").text
    assert svc.url in servers, servers
    return got


def test_cart_docs_lists_operations_and_creates_an_order(services, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    cart = services.start("cart")
    ops = open_docs(browser, cart, "cart")
    assert ("POST", "/create-order") in ops and ("GET", "/health/ready") in ops
    assert ("GET", "/order-details") not in ops  # order-service's, not served here

    block = browser.find_element(By.ID, "operations-cart-createOrder")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_for(lambda: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"), 20,
             what="the Try it out button").pop().click()
    body = wait_for(lambda: block.find_elements(By.CSS_SELECTOR, "textarea.body-param__text"),
                    20, what="the request body editor")[0]
    order_id = unique("DOCS")
    body.send_keys(Keys.CONTROL, "a")
    body.send_keys(Keys.DELETE)
    body.send_keys(json.dumps({"orderId": order_id, "itemsCount": 2}))
    block.find_element(By.CSS_SELECTOR, "button.execute").click()

    def answered():
        cells = block.find_elements(By.CSS_SELECTOR,
                                    ".live-responses-table .response .response-col_status")
        return cells[0].text.strip() if cells and cells[0].text.strip() else None
    assert wait_for(answered, 60, 0.5, what="the page's response") == "201"
    shown = block.find_element(By.CSS_SELECTOR,
                               ".live-responses-table .response-col_description pre").text
    assert order_id in shown and "Order created" in shown
    # the request went to this service's origin
    url = block.find_element(By.CSS_SELECTOR, ".request-url pre").text
    assert url.startswith(cart.url + "/create-order"), url


def test_order_docs_lists_operations(services, browser):
    order = services.start("order")
    ops = open_docs(browser, order, "order")
    assert ("GET", "/order-details") in ops and ("GET", "/dlq/messages") in ops
    assert ("POST", "/create-order") not in ops


def test_docs_without_assets_answer_503_json(services, tmp_path):
    cart = services.start("cart", env={"DOCS_UI_DIR": str(tmp_path / "nowhere")})
    for path in ("/docs", "/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"):
        r = cart.get(path)
        assert r.status_code == 503, (path, r.status_code)
        assert r.headers["Content-Type"].startswith("application/json")
        assert "scripts/fetch-docs-ui.sh" in r.json()["detail"]
        assert "DOCS_UI_DIR" in r.json()["detail"]
    assert cart.get("/health").status_code == 200  # the service itself is unaffected


def test_fetch_refuses_a_tarball_that_does_not_match_the_pinned_integrity(tmp_path):
    """scripts/fetch-docs-ui.sh checks the tarball against the pinned sha512
    before unpacking: a wrong pin installs nothing and says why."""
    import os
    import subprocess
    if not shutil.which("npm"):
        pytest.fail("npm not installed (scripts/deps.sh run installs it when missing)")
    dest = tmp_path / "docs-ui"
    env = dict(os.environ, DOCS_UI_DIR=str(dest),
               SWAGGER_UI_INTEGRITY="sha512-" + "A" * 86 + "==")
    res = subprocess.run([str(ROOT / "scripts" / "fetch-docs-ui.sh")], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "integrity mismatch" in res.stderr
    assert not (dest / "swagger-ui-bundle.js").exists()
