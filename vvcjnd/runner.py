"""The one place that runs external tools and library codec calls: exit code checked, output
logged, timeout enforced (tools)."""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vvcjnd.errors import VvcjndError

TAIL_LINES = 15
_LOG_LOCK = threading.Lock()


@dataclass(frozen=True)
class ToolRun:
    """A finished tool run: its argument list, wall seconds and combined stdout/stderr text."""

    args: tuple[str, ...]
    seconds: float
    output: str

    @property
    def command_line(self) -> str:
        """The exact command line, with the tool's full path (for logs)."""
        return shlex.join(self.args)

    @property
    def portable_command_line(self) -> str:
        """The command line with the tool named by its file name, not by where it is
        installed: what dataset records hold, the same in every install of a tool."""
        return shlex.join(portable_args(self.args))


def portable_args(args) -> list[str]:
    """``args`` with the tool (the first argument) reduced to its file name."""
    return [Path(args[0]).name, *args[1:]]


def run_tool(
    args: list[str], log: Path | None = None, timeout_s: float | None = None, check: bool = True
) -> ToolRun:
    """Run ``args``; append its output to ``log``; raise :class:`VvcjndError` on failure.

    With ``check=False`` a non-zero exit status is logged but not raised (version probes).

    The error names the command, the exit status (or the timeout) and the last lines of output.
    """
    command_line = shlex.join(args)
    start = time.perf_counter()
    try:
        completed = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError as exc:
        raise VvcjndError(f"tool not found: {args[0]!r} (command: {command_line})") from exc
    except PermissionError as exc:
        raise VvcjndError(f"tool not executable: {args[0]!r} (command: {command_line})") from exc
    except subprocess.TimeoutExpired as exc:
        output = (exc.output or b"").decode("utf-8", "replace")
        _append_log(log, command_line, output, f"killed after {timeout_s} s")
        raise VvcjndError(
            f"timed out after {timeout_s} s: {command_line}\n{_tail(output)}"
        ) from exc
    seconds = time.perf_counter() - start
    output = completed.stdout.decode("utf-8", "replace")
    _append_log(log, command_line, output, f"exit {completed.returncode}, {seconds:.2f} s")
    if check and completed.returncode != 0:
        raise VvcjndError(
            f"exit status {completed.returncode} from: {command_line}\n{_tail(output)}"
        )
    return ToolRun(tuple(args), seconds, output)


def _tail(output: str) -> str:
    lines = output.rstrip().splitlines()[-TAIL_LINES:]
    return "\n".join(f"  | {line}" for line in lines) or "  | (no output)"


def _append_log(log: Path | None, command_line: str, output: str, status: str) -> None:
    if log is None:
        return
    with _LOG_LOCK, open(log, "a", encoding="utf-8") as handle:
        handle.write(f"$ {command_line}\n{output.rstrip()}\n[{status}]\n\n")


@dataclass(frozen=True)
class LibraryCall:
    """One call of a library codec (Pillow's JPEG, say): ``args`` records it as a command
    line would (``pillow.jpeg quality=90 ... in out``), ``function`` performs it."""

    args: tuple[str, ...]
    function: Callable[[], None]


def run_call(call: LibraryCall, log: Path | None = None) -> ToolRun:
    """Perform ``call``; log it as :func:`run_tool` logs a tool; raise :class:`VvcjndError`
    naming the call when the library raises."""
    command_line = shlex.join(call.args)
    start = time.perf_counter()
    try:
        call.function()
    except (OSError, ValueError, RuntimeError) as exc:
        _append_log(log, command_line, str(exc), "failed")
        raise VvcjndError(f"{command_line} failed: {exc}") from exc
    seconds = time.perf_counter() - start
    _append_log(log, command_line, "", f"done, {seconds:.2f} s")
    return ToolRun(call.args, seconds, "")
