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


def test_trial_form_is_the_schema_and_errors_read_as_the_cli_words_them():
    from lactobiome.trials import load_trial, parse_trial
    from lactobiome.web.forms import trial_form_fields, trial_values, validate_trial_form

    assert [f.key for f in trial_form_fields()] == ["n_per_arm", "follow_up_days", "seed"]
    base = load_trial("hurtado2017")
    assert trial_values(base) == {"n_per_arm": base.n_per_arm, "follow_up_days": base.follow_up_days,
                                  "seed": base.seed}
    trial, errors = validate_trial_form(base, {"n_per_arm": "0", "follow_up_days": "x", "chunk_size": 3})
    assert trial is None
    assert errors["n_per_arm"] == "n_per_arm: Input should be greater than or equal to 1 (got 0)"
    assert errors["follow_up_days"].startswith("follow_up_days: Input should be a valid integer")
    assert errors["chunk_size"] == "chunk_size: unknown field"
    with pytest.raises(LactobiomeError, match=r"n_per_arm: Input should be greater than or equal to 1 \(got 0\)"):
        parse_trial({**base.model_dump(mode="json"), "n_per_arm": 0}, "hurtado2017.yaml")
    trial, errors = validate_trial_form(base, {"n_per_arm": "50"}, {"n_per_arm": 40})
    assert trial is None and errors["n_per_arm"].startswith("n_per_arm: at most 40 in the explorer (got 50)")
    trial, errors = validate_trial_form(base, {"n_per_arm": "6", "follow_up_days": "9"})
    assert errors == {} and (trial.n_per_arm, trial.follow_up_days) == (6, 9)
    assert trial.arms == base.arms and trial.endpoints == base.endpoints  # the design's own arms and endpoints


def _wait(srv, path, cookie):
    deadline = time.monotonic() + 300
    while True:
        state = json.loads(_request(srv, "GET", path, cookie=cookie)[1])
        if state["state"] != "running" or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_trial_view_api_limits_run_figures_outputs_and_report(server, tmp_path):
    import io
    import zipfile

    import pandas as pd

    from lactobiome.trials import builtin_names
    from lactobiome.trials.output import DISCLAIMER as TRIAL_DISCLAIMER

    cookie = _request(server, "GET", "/")[0].getheader("Set-Cookie").split(";")[0]
    listing = json.loads(_request(server, "GET", "/api/trials")[1])
    assert [d["name"] for d in listing["designs"]] == builtin_names()
    hurtado = next(d for d in listing["designs"] if d["name"] == "hurtado2017")
    assert hurtado["source"].startswith("Hurtado JA et al.") and [a["name"] for a in hurtado["arms"]] == [
        "placebo", "fermentum_cect5716"]
    assert hurtado["primary"] == {"name": "mastitis_16wk", "kind": "clinical_mastitis", "unit": "share of women",
                                  "analysis": "risk_ratio"}
    assert listing["disclaimer"] == TRIAL_DISCLAIMER and listing["values"]["hurtado2017"]["n_per_arm"] == 146
    # a design is a built-in name, never a path
    response, payload = _request(server, "POST", "/api/trial/validate", {"trial": "../hurtado2017", "fields": {}})
    assert response.status == 400 and "unknown built-in" in json.loads(payload)["errors"]["trial"]
    response, _ = _request(server, "GET", "/api/trial/figures", cookie=cookie)
    assert response.status == 404  # no trial yet
    # limits: n per arm, follow-up, and the dyad-days a design plans (rautava2012: 15 women, each under 3 arms, 120 days)
    limits = Limits(max_body_bytes=2048, max_dyads=40, max_days=60, max_runs=1)
    errors = json.loads(_request(server, "POST", "/api/trial/validate", {"trial": "hurtado2017", "fields": {
        "n_per_arm": str(limits.max_trial_n_per_arm + 1),
        "follow_up_days": str(limits.max_trial_follow_up_days + 1)}})[1])["errors"]
    assert errors["n_per_arm"].startswith(f"n_per_arm: at most {limits.max_trial_n_per_arm} in the explorer")
    assert errors["follow_up_days"].startswith(f"follow_up_days: at most {limits.max_trial_follow_up_days} in the")
    errors = json.loads(_request(server, "POST", "/api/trial/validate", {"trial": "rautava2012", "fields": {
        "n_per_arm": "5"}})[1])["errors"]
    assert "dyad-days" in errors[""] and f"{limits.max_trial_dyad_days:,}" in errors[""]
    response, payload = _request(server, "POST", "/api/trial/run", {"trial": "hurtado2017",
                                                                   "fields": {"n_per_arm": "0"}}, cookie)
    assert response.status == 422
    assert json.loads(payload)["errors"]["n_per_arm"] == "n_per_arm: Input should be greater than or equal to 1 (got 0)"
    body = {"trial": "hurtado2017", "fields": {"n_per_arm": "4", "follow_up_days": "5"}}
    assert _request(server, "POST", "/api/trial/run", body)[0].status == 403  # no client cookie
    response, payload = _request(server, "POST", "/api/trial/run", body, cookie)
    assert response.status == 202 and json.loads(payload)["phase"] == "screening"
    # one run per client, a cohort or a trial
    cohort = {"scenario": "default", "fields": {"cohort.dyads": "4", "cohort.days": "3"}}
    assert _request(server, "POST", "/api/run", cohort, cookie)[0].status in (409, 202)
    assert _request(server, "POST", "/api/trial/run", body, cookie)[0].status in (409, 202)
    state = _wait(server, "/api/trial/run", cookie)
    assert state["state"] == "done", state
    assert state["phase"] == "simulating" and state["done"] == state["total"] == 8 * 2 * 5  # every woman, both arms
    answer = json.loads(_request(server, "GET", "/api/trial/figures", cookie=cookie)[1])
    assert [f["key"] for f in answer["figures"]] == ["trial-arms", "trial-effects", "trial-paired"]
    assert TRIAL_DISCLAIMER in answer["summary"]
    response, payload = _request(server, "GET", "/api/trial/outputs.zip", cookie=cookie)
    assert response.status == 200 and response.getheader("Content-Type") == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(payload))
    assert {"hurtado2017/arms.tsv", "hurtado2017/effects.tsv", "hurtado2017/trial.yaml"} <= set(archive.namelist())
    arms = pd.read_csv(archive.open("hurtado2017/arms.tsv"), sep="\t")
    primary = arms[arms["endpoint"] == "mastitis_16wk"]
    assert primary["n"].tolist() == [4, 4]
    # the figure draws the table: measured and truth per arm, as written
    measured, truth = answer["figures"][0]["figure"]["data"]
    assert measured["x"] == primary["arm"].tolist()
    assert measured["y"] == pytest.approx(primary["value"].tolist())
    assert truth["y"] == pytest.approx(primary["truth"].tolist())
    effects = pd.read_csv(archive.open("hurtado2017/effects.tsv"), sep="\t")
    assert effects.columns[:7].tolist() == ["endpoint", "comparison", "measure", "estimate", "ci_low", "ci_high",
                                            "p_value"]
    # the same figures in the offline report of the trial folder
    archive.extractall(tmp_path)
    out = tmp_path / "trial.html"
    assert main(["report", str(tmp_path / "hurtado2017"), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    for key in ("trial-arms", "trial-effects", "trial-paired"):
        assert f'id="fig-{key}"' in page
    assert TRIAL_DISCLAIMER.strip("()") in page.lower() and "<script src=" not in page


def test_trial_figures_draw_the_tables_with_the_null_of_each_measure():
    import math

    import pandas as pd

    from lactobiome.report.trial_figures import effects_section, paired_section
    from lactobiome.trials import load_trial, parse_trial
    from lactobiome.trials.results import design_summary

    data = load_trial("hurtado2017").model_dump(mode="json")
    data["arms"][1]["treatment"] = {"antibiotic": {"antibiotic_class": "flucloxacillin", "days": 10}}
    design = design_summary(parse_trial(data, "test"))
    assert design["arms"][1]["interventions"][-1].endswith("flucloxacillin for 10 days")
    assert design["arms"][0]["interventions"] == [] and design["control"] == "placebo"
    effects = pd.DataFrame({"endpoint": ["mastitis_16wk", "mastitis_16wk", "other"],
                            "comparison": ["a vs placebo", "b vs placebo", "a vs placebo"],
                            "measure": "risk_ratio", "estimate": [0.5, math.nan, 9.0], "ci_low": [0.2, math.nan, 1.0],
                            "ci_high": [1.5, math.nan, 20.0], "p_value": [0.2, 1.0, 0.01],
                            "truth_estimate": [0.8, 1.0, 2.0]})
    fig = effects_section(design, effects).figure
    measured, truth = fig.data
    assert list(measured.y) == ["a vs placebo", "b vs placebo"]  # the primary endpoint only
    assert list(measured.x) == [0.5, None] and list(truth.x) == [0.8, 1.0]
    assert list(measured.error_x.array) == [pytest.approx(1.0), None]
    assert list(measured.error_x.arrayminus) == [pytest.approx(0.3), None]
    assert list(measured.text) == ["p = 0.2", "p = 1"]
    assert fig.layout.xaxis.type == "log" and fig.layout.shapes[0].x0 == 1.0  # a ratio's "no effect" is 1
    assert [a.y for a in fig.layout.annotations] == ["b vs placebo"]  # said, not drawn, where not estimable
    assert all(t.orientation == "h" for t in fig.data)  # grouped along the comparisons, not shifted in value
    paired = pd.DataFrame({"endpoint": "mastitis_16wk", "comparison": "a vs placebo", "basis": ["measured", "truth"],
                           "measure": "risk_difference", "n": 8, "estimate": [-0.25, 0.0], "ci_low": [-0.6, 0.0],
                           "ci_high": [0.1, 0.0], "p_value": [0.15, 1.0]})
    fig = paired_section(design, paired).figure
    assert [t.x[0] for t in fig.data] == [-0.25, 0.0] and fig.layout.shapes[0].x0 == 0.0
    assert "no within-woman contrast" in paired_section(design, paired.iloc[0:0]).caption[0]
