"""``lactobiome serve`` without a browser: binding rules, limits, form validation, runs."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

pytest.importorskip("plotly")

from lactobiome.cli import main
from lactobiome.errors import LactobiomeError
from lactobiome.scenarios import load_scenario
from lactobiome.web import Limits, is_loopback, make_server
from lactobiome.web.forms import form_fields, scenario_values, validate_form


@pytest.mark.parametrize("host, local", [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
                                         ("localhost", True), ("0.0.0.0", False), ("::", False),
                                         ("192.168.1.5", False), ("example.org", False)])
def test_loopback(host, local):
    assert is_loopback(host) is local


def test_non_local_bind_is_refused_unless_asked():
    with pytest.raises(LactobiomeError, match="refusing to listen on 0.0.0.0: .* pass --host 0.0.0.0 explicitly"):
        make_server("0.0.0.0", 0)
    server = make_server("0.0.0.0", 0, allow_remote=True)
    try:
        assert server.server_address[1] > 0
    finally:
        server.server_close()


def test_cli_refuses_a_host_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("LACTOBIOME_SERVE_HOST", "0.0.0.0")
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0" in err and len(err.strip().splitlines()) == 1


def test_form_is_the_schema_and_errors_read_as_the_cli_words_them():
    keys = [f.key for f in form_fields()]
    assert {"cohort.dyads", "cohort.days", "cohort.seed", "population.caesarean", "routes.entero_mammary"} <= set(keys)
    base = load_scenario("default")
    assert scenario_values(base)["cohort.dyads"] == base.cohort.dyads
    scenario, errors = validate_form(base, {"cohort.dyads": "0", "population.caesarean": "2", "cohort.nope": 1})
    assert scenario is None
    assert errors["cohort.dyads"] == "cohort.dyads: Input should be greater than or equal to 1 (got 0)"
    assert errors["population.caesarean"] == "population.caesarean: Input should be less than or equal to 1 (got 2)"
    assert errors["cohort.nope"] == "cohort.nope: unknown field"
    # the same schema as a scenario file: the CLI's message for the same value
    with pytest.raises(LactobiomeError, match="cohort.dyads: Input should be greater than or equal to 1 \\(got 0\\)"):
        load_scenario("default", {"cohort": {"dyads": 0}})
    scenario, errors = validate_form(base, {"cohort.dyads": "900"}, {"cohort.dyads": 300})
    assert scenario is None and errors["cohort.dyads"].startswith("cohort.dyads: at most 300 in the explorer")
    scenario, errors = validate_form(base, {"cohort.dyads": "12", "routes.entero_mammary": False})
    assert errors == {} and scenario.cohort.dyads == 12 and not scenario.routes.entero_mammary


@pytest.fixture
def server():
    srv = make_server("127.0.0.1", 0, limits=Limits(max_body_bytes=2048, max_dyads=40, max_days=60, max_runs=1))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _request(srv, method, path, body=None, cookie=None, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=30)
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response, payload


def test_limits_paths_and_one_run_per_client(server):
    response, _ = _request(server, "GET", "/")
    cookie = response.getheader("Set-Cookie").split(";")[0]
    assert "HttpOnly" in response.getheader("Set-Cookie")
    # a scenario is a built-in name, never a path
    response, payload = _request(server, "GET", "/api/form?scenario=../../etc/passwd")
    assert response.status == 404 and "unknown built-in" in json.loads(payload)["error"]
    response, _ = _request(server, "GET", "/../../etc/passwd")
    assert response.status == 404
    # a page whose DNS name was rebound to 127.0.0.1 sends its own Host: refused
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    conn.request("GET", "/api/form", headers={"Host": "evil.example:80"})
    assert conn.getresponse().status == 403
    conn.close()
    response, payload = _request(server, "POST", "/api/run", raw=b"x" * 4096, cookie=cookie)
    assert response.status == 413
    response, payload = _request(server, "POST", "/api/run", {"scenario": "default", "fields": {}})
    assert response.status == 403  # no client cookie
    response, payload = _request(server, "POST", "/api/run", {"scenario": "default",
                                                             "fields": {"cohort.dyads": "41"}}, cookie)
    assert response.status == 422 and "at most 40" in json.loads(payload)["errors"]["cohort.dyads"]
    body = {"scenario": "default", "fields": {"cohort.dyads": "8", "cohort.days": "12"}}
    response, payload = _request(server, "POST", "/api/run", body, cookie)
    assert response.status == 202 and json.loads(payload)["total"] == 8 * 12
    response, payload = _request(server, "POST", "/api/run", body, cookie)
    assert response.status in (409, 202)  # 409 while the first still runs
    deadline = time.monotonic() + 120
    while True:
        state = json.loads(_request(server, "GET", "/api/run", cookie=cookie)[1])
        if state["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state["state"] == "done" and state["done"] == state["total"] == 96
    figures = json.loads(_request(server, "GET", "/api/figures", cookie=cookie)[1])["figures"]
    assert [f["key"] for f in figures] == ["cohort", "composition", "provenance", "panel", "mastitis"]
    response, payload = _request(server, "GET", "/api/dyad?index=8", cookie=cookie)
    assert response.status == 400 and "from 0 to 7" in json.loads(payload)["error"]
    view = json.loads(_request(server, "GET", "/api/dyad?index=2", cookie=cookie)[1])
    assert len(view["mastitis_state"]) == len(view["days"]) == 12
    response, payload = _request(server, "GET", "/api/result.nc", cookie=cookie)
    assert response.status == 200 and payload[:4] == b"\x89HDF"
