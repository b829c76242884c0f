"""The server's request side: bounded body models, the body-size middleware, short JSON errors
and the viewing check (which display mode a window allows). Used by :mod:`.server`."""

from __future__ import annotations

from typing import Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

MAX_BODY_BYTES = 4096
CONTROLS_CSS_PX = 120  # height the page needs under the images for its buttons, CSS pixels
SUBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
MIN_FRAMES_PER_CHANGE = 2  # the flicker display needs refresh_hz >= 2 x its rate


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubjectIn(Strict):
    subject_id: str = Field(pattern=SUBJECT_PATTERN)


class ViewingIn(Strict):
    """What the page measured, in CSS pixels and the device pixel ratio; ``refresh_hz`` is the
    page's requestAnimationFrame rate over half a second (None: not measured)."""

    screen_w: int = Field(ge=1, le=100_000)
    screen_h: int = Field(ge=1, le=100_000)
    window_w: int = Field(ge=1, le=100_000)
    window_h: int = Field(ge=1, le=100_000)
    dpr: float = Field(gt=0, le=16)
    user_agent: str = Field(max_length=512)
    refresh_hz: float | None = Field(default=None, ge=0, le=1000)


class AnswerIn(Strict):
    """An answer; ``flicker_hz`` (the image changes per second the page achieved) is required
    in the flicker display and refused in the others."""

    answer: Literal["same", "different", "not_sure"]
    response_ms: int = Field(ge=0, le=86_400_000)
    flicker_hz: float | None = Field(default=None, ge=0, le=1000)


class BodyLimit:
    """ASGI middleware: refuse a request body over ``limit`` bytes (413), declared or streamed.

    The body is read (at most ``limit`` bytes of it) before the application sees the request.
    """

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        too_large = error(413, "request body too large")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await too_large(scope, receive, send)
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                return await too_large(scope, receive, send)
            if not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=HEADERS)


def requirements(plan, viewing: ViewingIn) -> str:
    """What the screen or browser lacks for this test, in words ('' when nothing)."""
    min_w, min_h = plan.min_screen
    screen_w, screen_h = int(viewing.screen_w * viewing.dpr), int(viewing.screen_h * viewing.dpr)
    if (min_w is not None and screen_w < min_w) or (min_h is not None and screen_h < min_h):
        need = f"{min_w or 'any'} x {min_h or 'any'}"
        return (
            f"screen too small: this test needs a screen of at least {need} screen pixels; "
            f"this one has {screen_w} x {screen_h}. Please take part on a larger screen."
        )
    if plan.display == "flicker":
        need = MIN_FRAMES_PER_CHANGE * plan.flicker_hz
        if viewing.refresh_hz is None or viewing.refresh_hz < need:
            return (
                f"browser too slow: the flicker test needs at least {need:g} frames per second "
                f"(requestAnimationFrame); this browser draws {viewing.refresh_hz or 0:.0f}. "
                "Close other tabs or use another browser, and check again."
            )
    return ""


def display_mode(plan, viewing: ViewingIn) -> tuple[str | None, str]:
    """The display mode a window allows (None: too small or lacking) and why, in words.

    One image pixel is one screen pixel: the window offers window * dpr screen pixels.
    """
    lacking = requirements(plan, viewing)
    if lacking:
        return None, lacking
    width = max(w for w, _ in plan.sizes.values())
    height = max(h for _, h in plan.sizes.values())
    screen_w = int(viewing.window_w * viewing.dpr)
    screen_h = int((viewing.window_h - CONTROLS_CSS_PX) * viewing.dpr)
    fits_two = screen_w >= 2 * width + plan.gap_px and screen_h >= height
    fits_one = screen_w >= width and screen_h >= height
    if plan.display in ("auto", "side_by_side") and fits_two:
        return "side_by_side", ""
    if plan.display in ("auto", "toggle", "flicker") and fits_one:
        return ("flicker" if plan.display == "flicker" else "toggle"), ""
    need = 2 * width + plan.gap_px if plan.display == "side_by_side" else width
    return None, (
        f"window too small: the test needs {need} x {height} screen pixels for the images "
        f"plus {CONTROLS_CSS_PX} CSS pixels for the buttons; this window offers "
        f"{screen_w} x {screen_h}. Enlarge or maximise the window and check again."
    )


def check_answer(plan, display: str, body: AnswerIn) -> tuple[float | None, int | None]:
    """(flicker_hz, flicker_off) to store with a valid answer; an invalid one raises
    ValueError with the message for the client (the trial's display mode decides)."""
    if body.answer == "not_sure" and not plan.not_sure:
        raise ValueError("this test offers no 'not sure' answer")
    if display != "flicker":
        if body.flicker_hz is not None:
            raise ValueError("flicker_hz belongs to the flicker display only")
        return None, None
    if body.flicker_hz is None:
        raise ValueError("flicker_hz (the measured rate) is required in the flicker display")
    off = abs(body.flicker_hz - plan.flicker_hz) > plan.flicker_tolerance * plan.flicker_hz
    return body.flicker_hz, int(off)
