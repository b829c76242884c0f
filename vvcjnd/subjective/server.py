"""The test server: FastAPI on uvicorn, the page shipped in ``static/``, SQLite behind it.

Security: the server binds to 127.0.0.1 unless told otherwise; the admin API needs the token
printed at start (``Authorization: Bearer``); a subject fetches images only through the trial
currently open for them (``/api/subjects/<id>/trials/<trial>/<left|right>``: the server looks
the file up, no client string reaches a path); bodies are pydantic models, unknown fields are
refused, and a body over :data:`~.web.MAX_BODY_BYTES` is refused before it is read; every error is
a short JSON ``{"error": ...}``.
"""

from __future__ import annotations

import io
import logging
import secrets
from importlib import resources
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from vvcjnd.subjective import export
from vvcjnd.subjective.schedule import (
    COLLECTIVE,
    FINISHED,
    TRAINING,
    collective_states,
    correct_answer,
    end_reason,
    next_trial,
)
from vvcjnd.subjective.stimuli import StimulusSet
from vvcjnd.subjective.store import Refused, Store
from vvcjnd.subjective.web import (
    HEADERS,
    SUBJECT_PATTERN,
    AnswerIn,
    BodyLimit,
    SubjectIn,
    ViewingIn,
    check_answer,
    display_mode,
)
from vvcjnd.subjective.web import error as _error

log = logging.getLogger(__name__)

STATIC = {  # URL name -> (package file, media type); nothing else is served
    "": ("index.html", "text/html; charset=utf-8"),
    "admin": ("admin.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "admin.js": ("admin.js", "text/javascript; charset=utf-8"),
    "style.css": ("style.css", "text/css; charset=utf-8"),
}
# The pages load nothing but this server's own files (no CDN, works offline).
PAGE_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}

SubjectId = Annotated[str, Path(pattern=SUBJECT_PATTERN)]
TrialId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


def create_app(store: Store, stimuli: StimulusSet, admin_token: str) -> FastAPI:
    """The application over an open store and a checked stimulus set."""
    plan = stimuli.plan
    # collective QUEST+: the posteriors after the answers up to answer_seq "seq" (a cache of
    # the fold of the stored answers; rebuilt from the database after a restart)
    folded = {"seq": 0, "states": None}
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit)
    package = resources.files("vvcjnd.subjective") / "static"

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"invalid request: {where}: {first.get('msg', '')}"[:200])

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return _error(exc.status_code, "not found" if exc.status_code == 404 else str(exc.detail))

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return _error(exc.status, exc.message)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.exception("internal error on %s", request.url.path)
        return _error(500, "internal error")

    def page(name: str) -> Response:
        file, media = STATIC[name]
        return Response((package / file).read_bytes(), media_type=media, headers=PAGE_HEADERS)

    @app.get("/")
    def index():
        return page("")

    @app.get("/admin")
    def admin_page():
        return page("admin")

    @app.get("/static/{name}")
    def static(name: str):
        if name not in STATIC or name in ("", "admin"):
            raise Refused(404, "not found")
        return page(name)

    def ending(subject_id: str) -> dict:
        """How a subject's test ended, with the completion code when they finished it."""
        reason = store.subject(subject_id)["end_reason"]
        code = store.code(subject_id) if reason == FINISHED else None
        return {"end": reason, "completion_code": code}

    def state(subject_id: str) -> dict:
        row = store.subject(subject_id)
        return {
            "subject_id": subject_id,
            "consented": row["consent_at"] is not None,
            "finished": row["finished_at"] is not None,
            **ending(subject_id),
        }

    @app.get("/api/settings")
    def settings():
        """What the page needs before a subject is known."""
        return {"id_param": plan.id_param, "not_sure": plan.not_sure}

    @app.post("/api/subjects")
    def register(body: SubjectIn):
        store.register(body.subject_id)
        return state(body.subject_id)

    @app.post("/api/subjects/{subject_id}/consent")
    def consent(subject_id: SubjectId):
        store.consent(subject_id)
        return state(subject_id)

    @app.post("/api/subjects/{subject_id}/viewing")
    def viewing(subject_id: SubjectId, body: ViewingIn):
        store.subject(subject_id)
        mode, problem = display_mode(plan, body)
        store.viewing(subject_id, body.model_dump(), mode)
        if mode is None:
            raise Refused(422, problem)
        return {"display": mode}

    @app.get("/api/subjects/{subject_id}/trial")
    def trial(subject_id: SubjectId):
        def schedule(history):  # runs under the store's lock: one consistent set of answers
            collective = None
            if plan.procedure == COLLECTIVE:  # the fold continues from the cached prefix
                seq, new = store.data_answers(folded["seq"])
                folded["states"] = collective_states(plan, new, folded["states"])
                folded["seq"], collective = seq, folded["states"]
            spec = next_trial(plan, subject_id, history, collective)
            return spec or end_reason(plan, history)

        row = store.current(subject_id, schedule)
        if row is None:
            return {"done": True, **ending(subject_id)}
        width, height = plan.sizes[row["image_id"]]
        base = f"/api/subjects/{subject_id}/trials/{row['trial_id']}"
        return {
            "done": False,
            "trial_id": row["trial_id"],
            "training": row["kind"] == TRAINING,
            "break_before": bool(row["break_before"]),
            "display": row["display"],
            "flicker_hz": plan.flicker_hz,
            "not_sure": plan.not_sure,
            "width": width,
            "height": height,
            "gap_px": plan.gap_px,
            "images": {"left": f"{base}/left", "right": f"{base}/right"},
            "progress": {"answered": row["seq"], "estimate": plan.estimated_trials()},
        }

    @app.get("/api/subjects/{subject_id}/trials/{trial_id}/{slot}")
    def stimulus(subject_id: SubjectId, trial_id: TrialId, slot: Literal["left", "right"]):
        store.subject(subject_id)
        row = store.trial(subject_id, trial_id)
        if row["answer"] is not None:
            raise Refused(404, "not a current stimulus")
        level = row["level_index"] if row["distorted_slot"] == slot else None
        data = stimuli.file(row["image_id"], level).read_bytes()
        return Response(data, media_type="image/png", headers=HEADERS)

    @app.post("/api/subjects/{subject_id}/trials/{trial_id}/answer")
    def answer(subject_id: SubjectId, trial_id: TrialId, body: AnswerIn):
        store.subject(subject_id)
        try:
            flicker = check_answer(plan, store.trial(subject_id, trial_id)["display"], body)
        except ValueError as exc:
            raise Refused(422, str(exc)) from None
        stored = store.answer(subject_id, trial_id, body.answer, body.response_ms, flicker)
        row = store.trial(subject_id, trial_id)
        reply = {"stored": stored}
        if row["kind"] == TRAINING:
            reply["correct_answer"] = correct_answer(TRAINING, row["level_index"])
        return reply

    def check_token(authorization: str | None) -> None:
        expected = f"Bearer {admin_token}"
        if authorization is None or not secrets.compare_digest(authorization, expected):
            raise Refused(401, "admin token required")

    @app.get("/api/admin/progress")
    def progress(authorization: Annotated[str | None, Header()] = None):
        check_token(authorization)
        tables = export.read_database(store.path)
        subjects = export.subject_table(*tables)
        samples = export.sample_table(*tables)
        counts = samples["image_id"].value_counts()
        images = [i for images in plan.sessions.values() for i in images]
        return {
            "subjects": subjects.astype(object).where(subjects.notna(), None).to_dict("records"),
            "samples_per_image": {image: int(counts.get(image, 0)) for image in images},
            "trap_failures": int(subjects["trap_failures"].sum()) if len(subjects) else 0,
        }

    @app.get("/api/admin/export/{table}")
    def export_table(
        table: Literal["samples", "trials", "subjects"],
        authorization: Annotated[str | None, Header()] = None,
    ):
        check_token(authorization)
        tables = export.read_database(store.path)
        frame = {
            "samples": lambda: export.sample_table(*tables),
            "trials": lambda: export.trial_table(tables[1]),
            "subjects": lambda: export.subject_table(*tables),
        }[table]()
        text = io.StringIO()
        frame.to_csv(text, sep="\t", index=False, float_format="%.6g", lineterminator="\n")
        headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{table}.tsv"'}
        return Response(text.getvalue(), media_type="text/tab-separated-values", headers=headers)

    return app


def serve(
    db: FilePath, stimuli_table: FilePath | None = None, host: str = "127.0.0.1", port: int = 8765
):
    """Check the stimuli, open (or create) the database, print both URLs and run until stopped.

    ``stimuli_table`` defaults to ``stimuli.tsv`` beside the database; ``plan.json`` is read
    from beside the table. The admin token is new at every start.
    """
    import uvicorn

    from vvcjnd.subjective.stimuli import load_stimuli

    table = stimuli_table or db.parent / "stimuli.tsv"
    stimuli = load_stimuli(table, table.parent / "plan.json")
    store = Store(db, stimuli.plan, stimuli.plan_text)
    token = secrets.token_urlsafe(24)
    base = f"http://{host}:{port}"
    print(f"subjects: {base}/", flush=True)
    print(f"admin:    {base}/admin#token={token}", flush=True)
    try:
        uvicorn.run(
            create_app(store, stimuli, token),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
    finally:
        store.close()
