"""Load on the subjective test server: concurrent simulated subjects over real HTTP.

A real server process (``python -m vvcjnd subjective serve``, 127.0.0.1, a free port) over the
tests' tiny stimulus set (3 images, 5 levels, ``--width`` x ``--height`` pixels); N simulated
subjects (asyncio, httpx) each run a whole session: register, consent, viewing check, then
next trial, both stimuli, a think time, the answer (a deterministic observer), until done.
Bounded: at most ``--max-seconds``, then every subject stops. Reported: p50 / p99 latency of
the next-trial and the answer calls, stimulus bytes per second, the server's CPU share and
peak memory (psutil), and a check against the database that every acknowledged answer is
stored exactly once and nothing else is. Baseline, same run: one subject alone.
``--kill``: the server is killed with SIGKILL once mid-run and restarted on the same port;
subjects retry (an answer is resubmitted with its trial id, which the server takes once) and
resume; no acknowledged answer may be lost.

Run: python benchmarks/bench_subjective.py [--subjects 50] [--kill] [--summary PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2 as httpx
import psutil
from summary import Row, add_summary_argument, write_summary

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.test_subjective_fixtures import VIEWING, LiveServer, make_stimuli, observe  # noqa: E402

RETRY_S = 20.0  # how long a subject keeps retrying a call while the server is down


class Subject:
    def __init__(self, name: str, client: httpx.AsyncClient, stimuli, think_s: float):
        self.name, self.client, self.stimuli, self.think_s = name, client, stimuli, think_s
        self.acknowledged: dict[str, str] = {}  # trial id -> answer the server took
        self.latency = {"trial": [], "answer": []}
        self.bytes = 0
        self.finished = False
        self.retries = 0
        self.random = random.Random(name)  # think times: uniform 0.5..1.5 x think_s

    async def call(self, method: str, url: str, timed: str | None = None, **kwargs):
        """One request, retried on a transport error (server down) for up to RETRY_S."""
        deadline = time.monotonic() + RETRY_S
        while True:
            start = time.perf_counter()
            try:
                response = await self.client.request(method, url, **kwargs)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                self.retries += 1
                await asyncio.sleep(0.1)
                continue
            if timed:
                self.latency[timed].append(time.perf_counter() - start)
            response.raise_for_status()
            return response

    async def run(self, stop: float) -> None:
        base = f"/api/subjects/{self.name}"
        await self.call("POST", "/api/subjects", json={"subject_id": self.name})
        await self.call("POST", f"{base}/consent")
        await self.call("POST", f"{base}/viewing", json=VIEWING)
        await asyncio.sleep(self.random.uniform(0, self.think_s))  # subjects start apart
        while time.monotonic() < stop:
            trial = (await self.call("GET", f"{base}/trial", timed="trial")).json()
            if trial["done"]:
                self.finished = True
                return
            try:
                images = [
                    (await self.call("GET", trial["images"][s])).content for s in ("left", "right")
                ]
            except httpx.HTTPStatusError:  # answered before a crash whose reply was lost
                continue
            self.bytes += sum(map(len, images))
            think = self.random.uniform(0.5, 1.5) * self.think_s
            await asyncio.sleep(think)
            answer = observe(self.stimuli, *images)
            body = {"answer": answer, "response_ms": int(think * 1000)}
            url = f"{base}/trials/{trial['trial_id']}/answer"
            await self.call("POST", url, timed="answer", json=body)
            self.acknowledged[trial["trial_id"]] = answer


def server_sampler(process: psutil.Process, peak: list, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], process.memory_info().rss)
        except psutil.Error:
            pass
        stop.wait(0.2)


async def session_run(
    server: LiveServer, stimuli, n: int, think_s: float, max_s: float, kill_at: int | None
) -> dict:
    limits = httpx.Limits(max_connections=n + 5, max_keepalive_connections=n + 5)
    # TCP_NODELAY as browsers set it (else Nagle holds a POST's body behind its headers)
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=nodelay)
    async with httpx.AsyncClient(base_url=server.base, transport=transport, timeout=30) as client:
        subjects = [Subject(f"load{n}x{i:03d}", client, stimuli, think_s) for i in range(n)]
        start, client_cpu = time.monotonic(), time.process_time()
        tasks = [asyncio.create_task(s.run(start + max_s)) for s in subjects]
        killed = None
        if kill_at is not None:  # mid-run: once kill_at answers are acknowledged
            while sum(len(s.acknowledged) for s in subjects) < kill_at:
                await asyncio.sleep(0.02)
            killed = sum(len(s.acknowledged) for s in subjects)
            server.kill()
            await asyncio.to_thread(server.start)  # same port and database
        await asyncio.gather(*tasks)
        wall = time.monotonic() - start
    client_cpu = time.process_time() - client_cpu
    return {"subjects": subjects, "wall": wall, "killed_after": killed, "client_cpu": client_cpu}


def measure(stimuli, n: int, think_s: float, max_s: float, kill_at: int | None, db: Path) -> dict:
    server = LiveServer(stimuli.__class__(**{**stimuli.__dict__, "db": db})).start()
    process = psutil.Process(server.process.pid)
    cpu_before = sum(process.cpu_times()[:2])
    peak, stop = [process.memory_info().rss], threading.Event()
    sampler = threading.Thread(target=server_sampler, args=(process, peak, stop), daemon=True)
    sampler.start()
    try:
        result = asyncio.run(session_run(server, stimuli, n, think_s, max_s, kill_at))
        if kill_at is None:
            cpu = sum(process.cpu_times()[:2]) - cpu_before
        else:  # the first process is gone: the restarted one's share
            cpu = sum(psutil.Process(server.process.pid).cpu_times()[:2])
    finally:
        stop.set()
        server.stop()
    result |= {"cpu_s": cpu, "peak_rss": peak[0], "check": check_store(db, result["subjects"])}
    return result


def check_store(db: Path, subjects: list[Subject]) -> dict:
    """Acknowledged answers missing, answered differently or stored without acknowledgement."""
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as connection:
        stored = dict(
            connection.execute(
                "SELECT trial_id, answer FROM trials WHERE answer IS NOT NULL"
            ).fetchall()
        )
    acknowledged = {t: a for s in subjects for t, a in s.acknowledged.items()}
    return {
        "acknowledged": len(acknowledged),
        "lost": sum(t not in stored for t in acknowledged),
        "changed": sum(t in stored and stored[t] != a for t, a in acknowledged.items()),
        "unacknowledged": sum(t not in acknowledged for t in stored),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] * 1000


def report(label: str, result: dict) -> dict:
    subjects = result["subjects"]
    figures = {"finished": sum(s.finished for s in subjects), "n": len(subjects)}
    for call in ("trial", "answer"):
        values = [v for s in subjects for v in s.latency[call]]
        figures[f"{call}_p50"], figures[f"{call}_p99"] = (
            percentile(values, 50),
            percentile(values, 99),
        )
    figures["mb_s"] = sum(s.bytes for s in subjects) / result["wall"] / 1e6
    figures["cpu"] = result["cpu_s"] / result["wall"]
    check = result["check"]
    print(
        f"{label}: {figures['finished']}/{figures['n']} sessions finished in "
        f"{result['wall']:.1f} s; next-trial p50 {figures['trial_p50']:.1f} ms p99 "
        f"{figures['trial_p99']:.1f} ms; answer p50 {figures['answer_p50']:.1f} ms p99 "
        f"{figures['answer_p99']:.1f} ms; stimuli {figures['mb_s']:.2f} MB/s; server CPU "
        f"{100 * figures['cpu']:.0f} % of a core (clients "
        f"{100 * result['client_cpu'] / result['wall']:.0f} %), "
        f"peak RSS {result['peak_rss'] / 2**20:.0f} MiB; "
        f"answers acknowledged {check['acknowledged']}, lost {check['lost']}, changed "
        f"{check['changed']}, stored unacknowledged {check['unacknowledged']}"
        + (
            f"; killed after {result['killed_after']} answers, "
            f"{sum(s.retries for s in subjects)} retries"
            if result["killed_after"] is not None
            else ""
        ),
        flush=True,
    )
    return figures | check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=50)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=2000,
        help="mean think time per trial (a subject's look and answer)",
    )
    parser.add_argument("--max-seconds", type=float, default=120, help="bound of each run")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--kill", action="store_true", help="also run the SIGKILL/restart mode")
    add_summary_argument(parser)
    args = parser.parse_args()
    think = args.think_ms / 1000
    with tempfile.TemporaryDirectory(prefix="vvcjnd-bench-subjective-") as tmp:
        stimuli = make_stimuli(Path(tmp), size=(args.width, args.height))
        runs = {"alone": measure(stimuli, 1, think, args.max_seconds, None, Path(tmp) / "a.db")}
        runs["load"] = measure(
            stimuli, args.subjects, think, args.max_seconds, None, Path(tmp) / "b.db"
        )
        if args.kill:  # killed when about half of the answers of the load run are in
            half = runs["load"]["check"]["acknowledged"] // 2
            runs["kill"] = measure(
                stimuli, args.subjects, think, args.max_seconds, half, Path(tmp) / "c.db"
            )
        figures = {k: report(f"{k} ({len(r['subjects'])} subjects)", r) for k, r in runs.items()}
    alone, load = figures["alone"], figures["load"]
    n = args.subjects
    rows = [
        Row(
            "subjective",
            f"answer p99, {n} subjects",
            load["answer_p99"],
            "ms",
            "<= 50 ms",
            "1 subject alone",
            load["answer_p99"] / alone["answer_p99"],
        ),
        Row(
            "subjective",
            f"answer p50, {n} subjects",
            load["answer_p50"],
            "ms",
            "",
            "1 subject alone",
            load["answer_p50"] / alone["answer_p50"],
        ),
        Row(
            "subjective",
            f"next-trial p99, {n} subjects",
            load["trial_p99"],
            "ms",
            "",
            "1 subject alone",
            load["trial_p99"] / alone["trial_p99"],
        ),
        Row("subjective", "stimulus throughput", load["mb_s"], "MB/s"),
        Row("subjective", "server CPU, share of one core", 100 * load["cpu"], "%"),
    ]
    bad = {
        k: f["lost"] + f["changed"] + f["unacknowledged"] * (k != "kill")
        for k, f in figures.items()
    }
    rows.append(Row("subjective", "answers lost or duplicated", sum(bad.values()), "answers", "0"))
    if args.kill:
        kill = figures["kill"]
        rows.append(
            Row(
                "subjective",
                f"sessions finished after SIGKILL (of {kill['n']})",
                kill["finished"],
                "sessions",
                f"{kill['n']}",
            )
        )
    write_summary(args.summary, rows)
    unfinished = [k for k, f in figures.items() if f["finished"] < f["n"]]
    if unfinished:
        print(f"runs with unfinished sessions (bound --max-seconds): {unfinished}")
    return 1 if sum(bad.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
