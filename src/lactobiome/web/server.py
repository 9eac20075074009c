"""``lactobiome serve``: a local explorer on the standard library's threaded HTTP server.

Routes (all answers are generated; no path in a request is ever opened or written):

* ``GET /`` the page (sets the client cookie), ``GET /plotly.js`` Plotly, from the package;
* ``GET /api/form?scenario=NAME`` the form's fields and a built-in scenario's values;
* ``POST /api/validate`` and ``POST /api/run`` with ``{"scenario": NAME, "fields": {...}}``;
* ``GET /api/run`` this client's run: state and progress; ``GET /api/figures`` its figures;
  ``GET /api/dyad?index=I`` one dyad day by day; ``GET /api/result.nc`` the result file;
* trials: ``GET /api/trials`` the built-in designs, the trial form and its limits;
  ``POST /api/trial/validate`` and ``POST /api/trial/run`` with ``{"trial": NAME, "fields":
  {...}}``; ``GET /api/trial/run`` progress; ``GET /api/trial/figures`` the trial's figures
  (per arm measured vs truth, the effect, the paired contrast); ``GET /api/trial/outputs.zip``
  its tables.

Limits: request bodies, cohort size and days, a trial's n per arm, follow-up and dyad-days
(``Limits``), one run per client (a cookie; a cohort or a trial) and a few runs at once in all.
"""

from __future__ import annotations

import io
import ipaddress
import json
import secrets
import shutil
import socket
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import xarray as xr

from lactobiome.errors import LactobiomeError
from lactobiome.web.forms import form_fields, scenario_values, validate_form

COOKIE = "lactobiome_client"


@dataclass(frozen=True)
class Limits:
    """What the explorer accepts: request body bytes, cohort size and days, runs at once."""

    max_body_bytes: int = 64 * 1024
    max_dyads: int = 300
    max_days: int = 365
    max_runs: int = 2
    max_trial_n_per_arm: int = 40
    """Women in the smallest arm of a trial run from the explorer."""
    max_trial_follow_up_days: int = 365
    """Follow-up of a trial run from the explorer."""

    @property
    def max_trial_dyad_days(self) -> int:
        """Dyad-days a trial may plan (every arm, every woman): the largest cohort's."""
        return self.max_dyads * self.max_days


@dataclass
class TrialJob:
    """One client's background trial: the phase (screening, simulating) and its progress."""

    name: str
    total: int
    done: int = 0
    phase: str = "screening"
    state: str = "running"  # running, done, failed
    message: str = ""
    design: dict[str, Any] = field(default_factory=dict)
    figures: list[dict[str, Any]] = field(default_factory=list)
    summary: str = ""
    outputs_zip: bytes = b""


@dataclass
class Run:
    """One client's background run."""

    total: int
    done: int = 0
    state: str = "running"  # running, done, failed
    message: str = ""
    dataset: xr.Dataset | None = None
    figures: list[dict[str, Any]] = field(default_factory=list)
    result_file: Path | None = None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Explorer:
    """The explorer's state: runs by client, the scratch folder for result files."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.runs: dict[str, Run] = {}
        self.trials: dict[str, TrialJob] = {}
        self.lock = threading.Lock()
        self.scratch = Path(tempfile.mkdtemp(prefix="lactobiome-serve-"))

    def close(self) -> None:
        """Remove the scratch folder (result files offered for download)."""
        shutil.rmtree(self.scratch, ignore_errors=True)

    def field_limits(self) -> dict[str, int]:
        return {"cohort.dyads": self.limits.max_dyads, "cohort.days": self.limits.max_days}

    def trial_limits(self) -> dict[str, int]:
        return {"n_per_arm": self.limits.max_trial_n_per_arm,
                "follow_up_days": self.limits.max_trial_follow_up_days}

    def _busy(self, client: str) -> tuple[int, dict[str, Any]] | None:
        """The refusal when ``client`` has a run going or the explorer is full (call under the lock)."""
        jobs: list[Run | TrialJob] = [*self.runs.values(), *self.trials.values()]
        mine = [j for j in (self.runs.get(client), self.trials.get(client)) if j is not None]
        if any(j.state == "running" for j in mine):
            return HTTPStatus.CONFLICT, {"error": "a run of yours is still going; wait for it to finish"}
        if sum(j.state == "running" for j in jobs) >= self.limits.max_runs:
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the explorer is busy with other runs; try again soon"}
        return None

    def check_trial(self, name: object, fields: dict[str, object]) -> tuple[Any, dict[str, str]]:
        """Validate a trial form: (the design or None, errors by field) within the explorer's limits."""
        from lactobiome.web.forms import validate_trial_form

        base = _builtin_trial(name)
        if base is None:
            return None, {"trial": f"trial: unknown built-in {name!r}"}
        trial, errors = validate_trial_form(base, fields, self.trial_limits())
        if trial is None:
            return None, errors
        planned = planned_dyad_days(trial)
        if planned > self.limits.max_trial_dyad_days:
            return None, {"": f"this design plans {planned:,} dyad-days (every woman under every arm, to the last day "
                              f"its endpoints need), over the explorer's {self.limits.max_trial_dyad_days:,}; "
                              "lower n_per_arm or follow_up_days, or use `lactobiome trial`"}
        return trial, {}

    def start_trial(self, client: str, name: object, fields: dict[str, object]) -> tuple[int, dict[str, Any]]:
        """Validate and start a trial for ``client``: (HTTP status, answer)."""
        trial, errors = self.check_trial(name, fields)
        if trial is None:
            status = HTTPStatus.BAD_REQUEST if "trial" in errors else HTTPStatus.UNPROCESSABLE_ENTITY
            return status, {"errors": errors}
        with self.lock:
            refusal = self._busy(client)
            if refusal is not None:
                return refusal
            job = TrialJob(name=trial.name, total=sum(trial.arm_sizes().values()))
            self.trials[client] = job
        threading.Thread(target=self._work_trial, args=(job, trial), daemon=True).start()
        return HTTPStatus.ACCEPTED, {"state": job.state, "phase": job.phase, "total": job.total}

    def _work_trial(self, job: TrialJob, trial: Any) -> None:
        from lactobiome.report.trial_figures import trial_sections
        from lactobiome.trials.output import summary, write_outputs
        from lactobiome.trials.results import (
            arms_table,
            design_summary,
            effects_table,
            paired_table,
        )
        from lactobiome.trials.runner import run_trial

        def progress(phase: str, done: int, total: int) -> None:
            job.phase, job.done, job.total = phase, done, total

        try:
            run = run_trial(trial, progress=False, on_progress=progress)
            design = design_summary(trial)
            tables = {"arms": arms_table(run), "effects": effects_table(run), "paired": paired_table(run)}
            figures = [{"key": s.key, "title": s.title, "caption": list(s.caption),
                        "figure": json.loads(s.figure.to_json())} for s in trial_sections(design, tables)]
            folder = Path(tempfile.mkdtemp(prefix="trial-", dir=self.scratch))
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in write_outputs(run, folder):
                    archive.write(path, f"{trial.name}/{path.name}")
            shutil.rmtree(folder, ignore_errors=True)
            job.design, job.figures, job.summary, job.outputs_zip = design, figures, summary(run), buffer.getvalue()
            job.state = "done"
        except LactobiomeError as exc:
            job.state, job.message = "failed", str(exc)
        except Exception as exc:  # a failed trial is reported to its client, never kills the server
            job.state, job.message = "failed", f"trial failed: {type(exc).__name__}: {exc}"

    def start(self, client: str, scenario_name: str, fields: dict[str, object]) -> tuple[int, dict[str, Any]]:
        """Validate and start a run for ``client``: (HTTP status, answer)."""
        base = _builtin(scenario_name)
        if base is None:
            return HTTPStatus.BAD_REQUEST, {"errors": {"scenario": f"scenario: unknown built-in {scenario_name!r}"}}
        scenario, errors = validate_form(base, fields, self.field_limits())
        if scenario is None:
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"errors": errors}
        with self.lock:
            refusal = self._busy(client)
            if refusal is not None:
                return refusal
            run = Run(total=scenario.cohort.dyads * scenario.cohort.days)
            self.runs[client] = run
        threading.Thread(target=self._work, args=(run, scenario), daemon=True).start()
        return HTTPStatus.ACCEPTED, {"state": run.state, "total": run.total}

    def _work(self, run: Run, scenario: Any) -> None:
        from lactobiome.io.dataset import write_atomic
        from lactobiome.report import build_sections
        from lactobiome.simulation import simulate_in_memory

        def advance(n: int) -> None:
            run.done += n

        try:
            ds = simulate_in_memory(scenario, on_dyad_days=advance)
            figures = [{"key": s.key, "title": s.title, "caption": list(s.caption),
                        "figure": json.loads(s.figure.to_json())} for s in build_sections(ds)]
            path = self.scratch / f"{secrets.token_hex(8)}.nc"
            write_atomic(ds, path)
            previous = run.result_file
            run.dataset, run.figures, run.result_file = ds, figures, path
            run.state = "done"
            if previous is not None:
                previous.unlink(missing_ok=True)
        except LactobiomeError as exc:
            run.state, run.message = "failed", str(exc)
        except Exception as exc:  # a failed run is reported to its client, never kills the server
            run.state, run.message = "failed", f"run failed: {type(exc).__name__}: {exc}"


def _builtin(name: object) -> Any:
    """The built-in scenario ``name`` (a name only, never a path), or None."""
    from lactobiome.scenarios import builtin_names, load_scenario

    if not isinstance(name, str) or name not in builtin_names():
        return None
    return load_scenario(name)


def _builtin_trial(name: object) -> Any:
    """The built-in trial design ``name`` (a name only, never a path), or None."""
    from lactobiome.trials import builtin_names, load_trial

    if not isinstance(name, str) or name not in builtin_names():
        return None
    return load_trial(name)


def planned_dyad_days(trial: Any) -> int:
    """Dyad-days a trial's arms simulate, every enrolled woman under every arm, screening aside.

    At enrolment on diagnosis a woman's horizon counts from the last day of the window (the
    latest she can be enrolled), so the figure is an upper bound.
    """
    from lactobiome.trials.definition import DayEnrolment, DiagnosisEnrolment
    from lactobiome.trials.endpoints import horizon_days
    from lactobiome.trials.runner import pregnancy_days_needed

    enrolment = trial.enrolment
    day = (enrolment.window[1] if isinstance(enrolment, DiagnosisEnrolment)
           else enrolment.day if isinstance(enrolment, DayEnrolment) else 0)
    women = sum(trial.arm_sizes().values())
    return int(women * len(trial.arms) * (horizon_days(trial, day) + pregnancy_days_needed(trial)))


def dyad_view(ds: xr.Dataset, index: int) -> dict[str, Any]:
    """One dyad day by day: the daily panel, mastitis states and genus shares on recorded days."""
    from lactobiome.report.figures import PANEL

    one = ds.isel(dyad=index)
    daily = {name: np.asarray(one[name].values, dtype=np.float64).round(6).tolist()
             for name in (*PANEL, "inflammation", "milk_bacteria_per_ml") if name in one}
    composition: dict[str, dict[str, list[float]]] = {}
    for site in ("milk", "infant_gut"):
        cells = one["abundance"].sel(site=site).sum("origin").groupby("genus").sum("taxon")
        total = cells.sum("genus")
        shares = (cells / total.where(total > 0)).fillna(0.0)
        keep = shares.max("sample_day") > 0.01
        composition[site] = {str(g): shares.sel(genus=g).values.round(4).tolist()
                             for g in shares["genus"].values[keep.values]}
    attributes = {name: str(one[name].values) for name in ("feeding_group", "delivery_mode", "secretor")
                  if name in one}
    return {"index": index, "days": ds["day"].values.tolist(), "sample_days": ds["sample_day"].values.tolist(),
            "daily": daily, "mastitis_state": [str(s) for s in one["mastitis_state"].values],
            "composition": composition, "attributes": attributes}


class Handler(BaseHTTPRequestHandler):
    """Answers one request; the explorer is ``self.server.explorer``."""

    server: ExplorerServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log on the terminal
        return

    # --- helpers ---------------------------------------------------------------------------
    def _client(self) -> str | None:
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        morsel = cookie.get(COOKIE)
        return morsel.value if morsel is not None and len(morsel.value) == 32 else None

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _body(self) -> dict[str, Any] | None:
        length = self.headers.get("Content-Length")
        limit = self.server.explorer.limits.max_body_bytes
        if length is None or not length.isdigit():
            self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "a Content-Length header is required"})
            return None
        if int(length) > limit:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"request body over {limit} bytes"})
            self.close_connection = True
            return None
        try:
            data = json.loads(self.rfile.read(int(length)) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("fields", {}), dict):
            self._json(HTTPStatus.BAD_REQUEST, {"error": 'expected JSON {"scenario": NAME, "fields": {...}} '
                                                         '(or {"trial": NAME, ...})'})
            return None
        return data

    def _run(self) -> Run | None:
        client = self._client()
        run = self.server.explorer.runs.get(client) if client else None
        if run is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "no run yet"})
        return run

    def _trial(self) -> TrialJob | None:
        client = self._client()
        job = self.server.explorer.trials.get(client) if client else None
        if job is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": "no trial run yet"})
        return job

    def _trial_get(self, path: str) -> None:
        """The trial view's GET routes."""
        from lactobiome.trials.output import DISCLAIMER

        explorer = self.server.explorer
        if path == "/api/trials":
            from lactobiome.trials import builtin_names
            from lactobiome.trials.results import design_summary
            from lactobiome.web.forms import trial_form_fields, trial_values

            designs = {name: _builtin_trial(name) for name in builtin_names()}
            limits: dict[str, int] = {**explorer.trial_limits(), "dyad_days": explorer.limits.max_trial_dyad_days}
            self._json(HTTPStatus.OK, {"designs": [design_summary(d) for d in designs.values()],
                                       "fields": [f.__dict__ for f in trial_form_fields()],
                                       "values": {n: trial_values(d) for n, d in designs.items()},
                                       "limits": limits,
                                       "disclaimer": DISCLAIMER})
            return
        job = self._trial()
        if job is None:
            return
        if path == "/api/trial/run":
            self._json(HTTPStatus.OK, {"trial": job.name, "state": job.state, "phase": job.phase, "done": job.done,
                                       "total": job.total, "message": job.message})
        elif job.state != "done":
            self._json(HTTPStatus.CONFLICT, {"error": "the trial has not finished"})
        elif path == "/api/trial/figures":
            self._json(HTTPStatus.OK, {"trial": job.name, "design": job.design, "figures": job.figures,
                                       "summary": job.summary, "disclaimer": DISCLAIMER})
        else:
            self._send(HTTPStatus.OK, job.outputs_zip, "application/zip",
                       {"Content-Disposition": f'attachment; filename="{job.name}-trial.zip"'})

    def _foreign_host(self) -> bool:
        """Answer 403 when a loopback-only explorer gets a ``Host`` that is not a local name.

        A page on another site that rebinds its DNS name to 127.0.0.1 sends its own name as
        ``Host``; refusing it keeps such pages from driving the explorer.
        """
        if not self.server.loopback_only:
            return False
        hostname = urlparse("//" + self.headers.get("Host", "")).hostname or ""
        if is_loopback(hostname):
            return False
        self._json(HTTPStatus.FORBIDDEN, {"error": f"Host {hostname!r} is not this machine"})
        return True

    # --- routes ----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        if self._foreign_host():
            return
        url = urlparse(self.path)
        query = parse_qs(url.query)
        explorer = self.server.explorer
        if url.path == "/":
            from lactobiome.web.page import page

            client = self._client() or secrets.token_hex(16)
            self._send(HTTPStatus.OK, page().encode("utf-8"), "text/html; charset=utf-8",
                       {"Set-Cookie": f"{COOKIE}={client}; Path=/; HttpOnly; SameSite=Strict"})
        elif url.path == "/favicon.ico":  # browsers ask for one; "no content" keeps their consoles clean
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif url.path == "/plotly.js":
            from plotly.offline import get_plotlyjs

            self._send(HTTPStatus.OK, get_plotlyjs().encode("utf-8"), "text/javascript; charset=utf-8")
        elif url.path == "/api/form":
            from lactobiome.scenarios import builtin_names

            name = query.get("scenario", ["default"])[0]
            base = _builtin(name)
            if base is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"scenario: unknown built-in {name!r}"})
                return
            self._json(HTTPStatus.OK, {"scenarios": builtin_names(), "scenario": name,
                                       "fields": [f.__dict__ for f in form_fields()],
                                       "values": scenario_values(base), "limits": explorer.field_limits()})
        elif url.path == "/api/run":
            run = self._run()
            if run is not None:
                self._json(HTTPStatus.OK, {"state": run.state, "done": run.done, "total": run.total,
                                           "message": run.message})
        elif url.path == "/api/figures":
            run = self._run()
            if run is not None:
                self._json(HTTPStatus.OK, {"state": run.state, "figures": run.figures,
                                           "dyads": 0 if run.dataset is None else run.dataset.sizes["dyad"]})
        elif url.path == "/api/dyad":
            run = self._run()
            if run is None:
                return
            if run.dataset is None:
                self._json(HTTPStatus.CONFLICT, {"error": "the run has not finished"})
                return
            text = query.get("index", ["0"])[0]
            n = run.dataset.sizes["dyad"]
            if not text.isdigit() or int(text) >= n:
                self._json(HTTPStatus.BAD_REQUEST, {"error": f"index: expected a dyad from 0 to {n - 1}"})
                return
            self._json(HTTPStatus.OK, dyad_view(run.dataset, int(text)))
        elif url.path in TRIAL_GET_ROUTES:
            self._trial_get(url.path)
        elif url.path == "/api/result.nc":
            run = self._run()
            if run is None:
                return
            if run.result_file is None:
                self._json(HTTPStatus.CONFLICT, {"error": "the run has not finished"})
                return
            self._send(HTTPStatus.OK, run.result_file.read_bytes(), "application/x-netcdf",
                       {"Content-Disposition": 'attachment; filename="lactobiome-result.nc"'})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self._foreign_host():
            return
        url = urlparse(self.path)
        if url.path not in ("/api/validate", "/api/run", "/api/trial/validate", "/api/trial/run"):
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        data = self._body()
        if data is None:
            return
        explorer = self.server.explorer
        if url.path.startswith("/api/trial/"):
            self._trial_post(url.path, data)
            return
        name, fields = data.get("scenario", "default"), data.get("fields", {})
        if url.path == "/api/validate":
            base = _builtin(name)
            if base is None:
                self._json(HTTPStatus.BAD_REQUEST, {"errors": {"scenario": f"scenario: unknown built-in {name!r}"}})
                return
            self._json(HTTPStatus.OK, {"errors": validate_form(base, fields, explorer.field_limits())[1]})
            return
        client = self._client()
        if client is None:
            self._json(HTTPStatus.FORBIDDEN, {"error": "no client cookie: open the explorer page first"})
            return
        status, answer = explorer.start(client, str(name), fields)
        self._json(status, answer)


    def _trial_post(self, path: str, data: dict[str, Any]) -> None:
        """``POST /api/trial/validate`` and ``/api/trial/run``."""
        explorer = self.server.explorer
        name, fields = data.get("trial"), data.get("fields", {})
        if path == "/api/trial/validate":
            trial, errors = explorer.check_trial(name, fields)
            self._json(HTTPStatus.BAD_REQUEST if "trial" in errors else HTTPStatus.OK, {"errors": errors})
            return
        client = self._client()
        if client is None:
            self._json(HTTPStatus.FORBIDDEN, {"error": "no client cookie: open the explorer page first"})
            return
        status, answer = explorer.start_trial(client, name, fields)
        self._json(status, answer)


TRIAL_GET_ROUTES: tuple[str, ...] = ("/api/trials", "/api/trial/run", "/api/trial/figures", "/api/trial/outputs.zip")
"""The trial view's GET routes (answered by ``Handler._trial_get``)."""


class ExplorerServer(ThreadingHTTPServer):
    """The threaded HTTP server holding the :class:`Explorer`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], explorer: Explorer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.explorer = explorer
        self.loopback_only = is_loopback(address[0])

    def server_close(self) -> None:
        super().server_close()
        self.explorer.close()


def make_server(host: str = "127.0.0.1", port: int = 8765, *, allow_remote: bool = False,
                limits: Limits | None = None) -> ExplorerServer:
    """A bound explorer server (call ``serve_forever()``; ``port=0`` picks a free port).

    Parameters
    ----------
    host, port
        Where to listen.
    allow_remote
        Listen on an address other machines can reach; refused otherwise (the explorer has no
        authentication: anyone who can reach it can run cohorts).
    limits
        Request, cohort and concurrency limits.

    Raises
    ------
    LactobiomeError
        A non-loopback ``host`` without ``allow_remote``, or the address cannot be bound.
    """
    if not is_loopback(host) and not allow_remote:
        raise LactobiomeError(f"refusing to listen on {host}: the explorer has no authentication; "
                              f"pass --host {host} explicitly to serve other machines")
    try:
        return ExplorerServer((host, port), Explorer(limits or Limits()))
    except OSError as exc:
        raise LactobiomeError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
