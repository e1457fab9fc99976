"""The three systems under evaluation and the loop that replays inputs against one of them.

Each system replays its inputs in a process of its own, so the three run side by side; what
comes back per input is a small record (status, the agent's event, the statements vulnshop
ran), judged afterwards."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path
from typing import Callable

from . import sqlshape
from .client import Answer, Client
from .shop import Vulnshop, Waf, copy_binary

# What each attacked parameter is: method, path, the field, and the other fields sent.
PARAMS = {
    "category": ("GET", "/products", "category", ()),
    "id": ("GET", "/product", "id", ()),
    "order": ("GET", "/products/sorted", "order", ()),
    "username": ("POST", "/login", "username", (("password", "x"),)),
    "password": ("POST", "/login", "password", (("username", "alice"),)),
}

# Honest traffic for the learning period: each endpoint gets more calls than the agent's
# learning period (100 calls by default) before any attack is sent.
WARMUP_CALLS = 120
WARMUP = {
    "category": ["books", "garden tools", "kitchen", "toys", "Books"],
    "id": [str(n) for n in range(1, 13)] + ["-1", "1.5", "42"],
    "order": ["name", "price DESC", "id", "name ASC", "category DESC, price", "price, name"],
    "login": [("alice", "wonderland"), ("bob", "builder42"), ("alice", "wrong"), ("carol", "x")],
    "stats": ["1", "2", "3", "4", "5"],
}


def send(client: Client, param: str, value: bytes | str) -> Answer:
    """`value` as `param` of its endpoint."""
    method, path, field, others = PARAMS[param]
    fields = [(field, value), *others]
    if method == "GET":
        return client.get(path, fields)
    return client.post(path, fields)


def warm_up(client: Client) -> None:
    """Honest calls to every SQL endpoint, past the learning period."""
    for i in range(WARMUP_CALLS):
        for param in ("category", "id", "order"):
            values = WARMUP[param]
            send(client, param, values[i % len(values)])
        user, password = WARMUP["login"][i % len(WARMUP["login"])]
        client.post("/login", [("username", user), ("password", password)])
        client.get("/reviews/author-stats", [("review_id", WARMUP["stats"][i % 5])])


class System:
    """One system under evaluation; `client` talks to what an attacker would reach."""

    name = ""

    def __init__(self, shop: Vulnshop):
        self.shop = shop

    @property
    def client(self) -> Client:
        assert self.shop.client is not None
        return self.shop.client

    def start(self) -> None:
        self.shop.start()

    def restart(self) -> None:
        self.shop.restart()

    def stop(self) -> None:
        self.shop.stop()

    def trace(self) -> list[dict]:
        return self.shop.trace()

    def events(self) -> dict[str, dict]:
        return self.shop.events()


class Agent(System):
    """vulnshop with the agent in protect (or monitor) mode, after a learning period."""

    def start(self) -> None:
        super().start()
        warm_up(self.client)
        self.shop.trace()

    def restart(self) -> None:
        super().restart()
        warm_up(self.client)
        self.shop.trace()


class Behind(System):
    """Off-mode vulnshop behind the WAF: requests go to nginx, the trace is vulnshop's."""

    def __init__(self, shop: Vulnshop, waf_script: Path, work: Path):
        super().__init__(shop)
        self.waf_script = waf_script
        self.work = work
        self.waf: Waf | None = None
        self.waf_client: Client | None = None

    @property
    def client(self) -> Client:
        assert self.waf_client is not None
        return self.waf_client

    def start(self) -> None:
        self.shop.start()
        self.waf = Waf(self.waf_script, self.work, self.shop.port)
        self.waf.start()
        self.waf_client = Client(self.waf.port, self.shop.timeout)

    def restart(self) -> None:
        # vulnshop comes back on the same port; nginx stays.
        assert self.waf_client is not None
        self.waf_client.close()
        self.shop.restart()

    def stop(self) -> None:
        if self.waf_client is not None:
            self.waf_client.close()
        if self.waf is not None:
            self.waf.stop()
        self.shop.stop()


# Each request's limit: a payload that makes SQLite work longer counts as a timeout.
TIMEOUT = 10.0


class Setup:
    """A work folder, a copy of vulnshop the unprivileged user can run, and a factory for each
    system: called with a name (its folders' prefix), it returns what starts a fresh one."""

    def __init__(self, binary: Path, waf_script: Path | None):
        self.work = Path(tempfile.mkdtemp(prefix="antibody-eval-"))
        os.chmod(self.work, 0o755)
        self.binary = copy_binary(binary, self.work)
        self.waf_script = waf_script

    def off(self, name: str) -> Callable[[], System]:
        return lambda: System(Vulnshop(self.binary, self.work, name,
                                       {"ANTIBODY_MODE": "off"}, timeout=TIMEOUT))

    def agent(self, name: str, strict: bool = False) -> Callable[[], System]:
        """Protect mode after the learning period, as the agent runs in production."""
        env = {"ANTIBODY_MODE": "protect", "ANTIBODY_STRICT": "true" if strict else "false"}
        return lambda: Agent(Vulnshop(self.binary, self.work, name, env, timeout=TIMEOUT))

    def untaught(self, name: str) -> Callable[[], System]:
        """Protect mode from the first request, before any learning: what correlation alone
        stops."""
        return lambda: System(Vulnshop(self.binary, self.work, name,
                                       {"ANTIBODY_MODE": "protect"}, timeout=TIMEOUT))

    def waf(self, name: str) -> Callable[[], System]:
        assert self.waf_script is not None
        return lambda: Behind(Vulnshop(self.binary, self.work, name, {"ANTIBODY_MODE": "off"},
                                       timeout=TIMEOUT), self.waf_script, self.work / name)


def vulnerable_lines(lines: list[dict]) -> list[dict]:
    """The trace lines of statements built from input (not the app's bound ones); the
    trace's other sinks (files, commands, redirects) are left out."""
    return [line for line in lines
            if line.get("sink") == "sql" and line.get("sql") not in sqlshape.FIXED_STATEMENTS]


def needs_reseed(lines: list[dict]) -> bool:
    return any(sqlshape.changes_data(line.get("sql", "")) for line in lines)


def outcome(answer: Answer) -> dict:
    """The part of an answer the evaluation keeps."""
    record = {"status": answer.status}
    if answer.error:
        record["error"] = answer.error
    event = answer.headers.get("x-antibody-event")
    if event:
        record["event"] = event
    return record


def attack_job(system: System, job: tuple) -> dict:
    _, param, value = job
    answer = send(system.client, param, value)
    return outcome(answer)


def false_positive_job(system: System, job: tuple) -> dict:
    """A benign input at one place: a query parameter, or a review body."""
    _, target, value = job
    client = system.client
    if target in ("/reviews", "/safe/reviews"):
        answer = client.post(target, [("product_id", "1"), ("author", "alice"), ("body", value)])
    else:
        answer = client.get(target, [("category", value)])
    return outcome(answer)


def second_order_job(system: System, job: tuple) -> dict:
    """Stores a review with `value` as its author (bound, harmless), then asks for the
    author's statistics, which pastes the stored author into a statement."""
    _, value = job
    client = system.client
    stored = client.post("/reviews", [("product_id", "1"), ("author", value),
                                      ("body", "Arrived on time.")])
    record = {"store": outcome(stored)}
    location = stored.headers.get("location", "")
    if stored.status != 303 or "#review-" not in location:
        return record
    review = location.rsplit("#review-", 1)[1]
    record.update(outcome(client.get("/reviews/author-stats", [("review_id", review)])))
    return record


HANDLERS: dict[str, Callable[[System, tuple], dict]] = {
    "attack": attack_job,
    "fp": false_positive_job,
    "second": second_order_job,
}


def replay(system: System, jobs: list[tuple], keep_trace: bool, progress: str) -> list[dict]:
    """Runs every job against `system`; restarts it with fresh data after a job that may
    have changed the data, or that timed out or killed it."""
    records = []
    system.start()
    try:
        for number, job in enumerate(jobs, 1):
            record = HANDLERS[job[0]](system, job)
            lines = vulnerable_lines(system.trace())
            if keep_trace:
                record["trace"] = [{"sql": line["sql"], "ok": line["ok"]} for line in lines]
            failed = record.get("error") or record.get("store", {}).get("error")
            if failed or needs_reseed(lines) or not system.shop.alive():
                record["reseeded"] = True
                system.restart()
            records.append(record)
            if progress and number % 5000 == 0:
                print(f"  {progress}: {number}/{len(jobs)}", file=sys.stderr, flush=True)
    finally:
        system.stop()
    events = system.events()
    for record in records:
        for part in (record, record.get("store")):
            if part and "event" in part:
                event = events.get(part["event"], {})
                part["event_kind"] = event.get("kind")
                part["event_action"] = event.get("action")
    # Reported events (no 403) say which statements the agent saw as attacks or anomalies;
    # `agent_error` events say where its check failed and the statement ran unchecked.
    reported = [e for e in events.values() if e.get("action") == "reported"]
    kinds = Counter(f"{e.get('kind')} {e.get('action')}" for e in events.values())
    errors = Counter(str(e.get("error")) for e in events.values() if e.get("kind") == "agent_error")
    return records + [{
        "reported_events": [
            {"kind": e.get("kind"), "path": (e.get("request") or {}).get("path"),
             "statement": (e.get("sink") or {}).get("statement")} for e in reported],
        "event_counts": dict(kinds),
        "agent_errors": dict(errors),
    }]


def _worker(factory: Callable[[], System], jobs: list[tuple], keep_trace: bool,
            out: str, progress: str) -> None:
    # A SIGTERM from the parent unwinds through `replay`'s cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        records = replay(factory(), jobs, keep_trace, progress)
        Path(out).write_text(json.dumps(records))
    except BaseException:
        traceback.print_exc()
        raise


def run_parallel(streams: dict[str, tuple[Callable[[], System], list[tuple], bool]],
                 work: Path) -> dict[str, list[dict]]:
    """Runs each named stream (a system factory, its jobs, whether to keep the trace) in a
    process of its own; returns each stream's records and, last, its reported events."""
    context = multiprocessing.get_context("fork")
    processes = {}
    for name, (factory, jobs, keep_trace) in streams.items():
        out = work / f"{name}.records.json"
        process = context.Process(target=_worker,
                                  args=(factory, jobs, keep_trace, str(out), name))
        process.start()
        processes[name] = (process, out)
    results = {}
    try:
        for name, (process, out) in processes.items():
            process.join()
            if process.exitcode != 0:
                raise RuntimeError(f"the {name} run failed (exit {process.exitcode})")
            results[name] = json.loads(out.read_text())
    finally:
        for process, _ in processes.values():
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
                process.join(15)
    return results
