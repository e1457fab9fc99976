"""sqlmap, a real attack tool, against vulnshop's SQL endpoints.

sqlmap adapts: it picks its next payloads from the answers it gets, and when its heuristics
see a WAF it switches to browser-like headers. Every sqlmap run gets a freshly started and
seeded system. What sqlmap found is its own verdict: the injection points it lists on its
console and in its `log` file. What answered each request it sent comes from its traffic file
(`-t`); a 403 from the agent names its event in `x-antibody-event`, looked up in the events
file, so a block for another reason (a rate threshold, a scanner rule) shows as such.

    python3 -m eval.sqlmap [--short]

is the proof `scripts/sqlmap` makes: with the agent off sqlmap must find every target
injectable; in protect mode, from the first request (no learning period), none, and every
403 must be a blocked `sql_injection`. The evaluation (`eval.evaluate`) runs the same targets
against the agent off, Antibody after its learning period, and the WAF."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .client import USER_AGENT
from .runner import Setup, System


@dataclass(frozen=True)
class Target:
    """Where sqlmap starts (path and query), the parameter it tests, the form body of a POST."""

    path: str
    param: str
    body: str = ""

    @property
    def label(self) -> str:
        path = self.path.split("?", 1)[0]
        return f"POST {path}" if self.body else path


TARGETS = (
    Target("/products?category=books", "category"),
    Target("/product?id=1", "id"),
    Target("/login", "username", "username=alice&password=x"),
)


@dataclass(frozen=True)
class Plan:
    level: int
    risk: int
    passes: tuple[str, ...]
    cap: int  # seconds per sqlmap run


PLANS = {
    "full": Plan(level=3, risk=2, passes=("plain", "tampered"), cap=1800),
    # Level 1, risk 1, one pass: each run takes seconds.
    "short": Plan(level=1, risk=1, passes=("plain",), cap=40),
}
# Rewrites that SQLite still runs: comments for spaces, BETWEEN for comparisons, keywords in
# random case. The tampered pass shows whether encoding the payload helps.
TAMPERS = "between,randomcase,space2comment"
# SQLite has no sleep: for time-based tests sqlmap makes it hex-encode a RANDOMBLOB of
# time-sec x 50 MB, so one second bounds each such payload's work.
TIME_SEC = 1

FOUND = "sqlmap identified the following injection point(s)"
NOT_FOUND = "all tested parameters do not appear to be injectable"
SAW_WAF = "heuristics detected that the target is protected by some kind of WAF/IPS"
PARAMETER = re.compile(r"^Parameter: (\S+) \(")
TECHNIQUE = re.compile(r"^\s+Type: (.+?)\s*$")
REQUEST = re.compile(r"^HTTP request \[#(\d+)\]:", re.MULTILINE)
RESPONSE = re.compile(r"^HTTP response \[#(\d+)\] \((\d{3})[^)]*\):\r?$", re.MULTILINE)
# sqlmap closes every request/response pair in the traffic file with a line of 76 `#`.
SEPARATOR = re.compile(r"\r?\n#{76}\r?\n")
EVENT_HEADER = "x-antibody-event"
BLOCKED_INJECTION = "sql_injection blocked"
NO_EVENT = f"no {EVENT_HEADER} header"
UNKNOWN_EVENT = "an event id the events file lacks"
# sqlmap exits 0 or 1 when it finished (found or not); anything else (124 from the cap, 255
# from a crash) means it did not.
FINISHED = (0, 1)


class Unavailable(Exception):
    """sqlmap cannot be installed or run here; the message says why."""


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def injection_points(text: str) -> dict[str, list[str]]:
    """Each parameter sqlmap lists as an injection point in `text` (its console or `log`),
    with the techniques it confirmed there (`Type:` lines), in its order."""
    points: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        parameter = PARAMETER.match(line)
        technique = TECHNIQUE.match(line)
        if parameter:
            current = points.setdefault(parameter.group(1), [])
        elif line.strip() == "---":
            current = None
        elif current is not None and technique and technique.group(1) not in current:
            current.append(technique.group(1))
    return points


def logged_points(output_dir: Path) -> dict[str, list[str]]:
    """The injection points in the `log` file of each host folder sqlmap wrote."""
    points: dict[str, list[str]] = {}
    for log in sorted(output_dir.glob("*/log")):
        for param, found in injection_points(read(log)).items():
            known = points.setdefault(param, [])
            known += [technique for technique in found if technique not in known]
    return points


def exchanges(traffic: str) -> list[tuple[int | None, str | None]]:
    """Each request in the traffic file as (the answer's status or None, its
    `x-antibody-event` or None)."""
    found = []
    for block in SEPARATOR.split(traffic):
        if not REQUEST.search(block):
            continue
        response = RESPONSE.search(block)
        if response is None:
            found.append((None, None))
            continue
        event = None
        for line in block[response.end():].lstrip("\r\n").splitlines():
            if not line.strip():
                break  # the headers end at the first empty line
            name, _, value = line.partition(":")
            if name.strip().lower() == EVENT_HEADER:
                event = value.strip()
        found.append((int(response.group(2)), event))
    return found


def forbidden_reason(event_id: str | None, events: dict[str, dict]) -> str:
    """Why a 403 was answered: its event's kind and action (`sql_injection blocked`), or
    that it names no event the agent wrote (the WAF's 403s name none)."""
    if event_id is None:
        return NO_EVENT
    event = events.get(event_id)
    if event is None:
        return UNKNOWN_EVENT
    return f"{event.get('kind')} {event.get('action')}"


def observe(folder: Path, status: int, events: dict[str, dict]) -> dict:
    """What one run's files say: sqlmap's verdict and what answered its requests."""
    console = read(folder / "console.txt")
    traffic = exchanges(read(folder / "traffic.txt"))
    forbidden = Counter(forbidden_reason(event, events)
                        for answer, event in traffic if answer == 403)
    return {
        "status": status,
        "console_points": injection_points(console) if FOUND in console else {},
        "log_points": logged_points(folder / "output"),
        "said_not_injectable": NOT_FOUND in console,
        "saw_waf": SAW_WAF in console,
        "requests": len(traffic),
        "unanswered": sum(answer is None for answer, _ in traffic),
        "throttled": sum(answer == 429 for answer, _ in traffic),
        "forbidden": sum(forbidden.values()),
        "forbidden_by": dict(forbidden.most_common()),
    }


def injectable(run: dict) -> bool:
    """Whether sqlmap confirmed the run's parameter as an injection point: on its console
    and in its log alike (`problems` reports a disagreement)."""
    return run["param"] in run["console_points"] and run["param"] in run["log_points"]


def techniques(run: dict) -> list[str]:
    return run["console_points"].get(run["param"], []) if injectable(run) else []


def problems(run: dict) -> list[str]:
    """Every reason the run does not show what its system must show. With the agent off
    (`off`) sqlmap must find the parameter and nothing may be refused; in protect mode
    (`protect`) it must finish without finding it, after at least one 403, each a blocked
    `sql_injection`; behind the WAF (`waf`) it only has to have run."""
    param, system = run["param"], run["system"]
    found = []
    said, logged = param in run["console_points"], param in run["log_points"]
    if said != logged:
        found.append(f"sqlmap's console {'lists' if said else 'does not list'} `{param}` as "
                     f"an injection point but its log {'does' if logged else 'does not'}")
    finished = run["status"] in FINISHED
    if not finished:
        found.append(f"sqlmap did not finish (exit status {run['status']})")
    if run.get("shop_exited"):
        found.append("vulnshop exited during the run")
    if not run["requests"]:
        found.append("the traffic file records no request")
    if run["throttled"]:
        found.append(f"{run['throttled']} request(s) answered 429: a threshold, not the "
                     "detection")
    if system == "off":
        if not injectable(run):
            found.append(f"sqlmap did not find `{param}` injectable with the agent off")
        if run["forbidden"]:
            found.append(f"{run['forbidden']} request(s) answered 403 with the agent off")
    elif system == "protect":
        if injectable(run):
            found.append(f"sqlmap found `{param}` injectable through the agent")
        elif finished and not run["said_not_injectable"]:
            found.append("sqlmap ended without its `not injectable` verdict")
        if not run["forbidden"]:
            found.append("no request was answered 403: the agent never blocked")
        for reason, count in run["forbidden_by"].items():
            if reason != BLOCKED_INJECTION:
                found.append(f"{count} 403(s) with {reason}, not a blocked sql_injection")
    return found


def command(sqlmap: Path, port: int, target: Target, pass_name: str, plan: Plan,
            folder: Path) -> list[str]:
    """The sqlmap command for one run. A browser's User-Agent and `Host: localhost`, as
    every request of the evaluation carries: a signature WAF scores tool User-Agents and
    numeric hosts on their own."""
    args = [str(sqlmap), "-u", f"http://127.0.0.1:{port}{target.path}", "-p", target.param,
            "--batch", "--flush-session", "--disable-coloring", "--user-agent", USER_AGENT,
            "--host", "localhost", "--timeout", "10", "--retries", "1",
            "--level", str(plan.level), "--risk", str(plan.risk), "--time-sec", str(TIME_SEC),
            "--output-dir", str(folder / "output"), "-t", str(folder / "traffic.txt")]
    if target.body:
        # A failed login answers 401, which sqlmap otherwise takes for missing credentials.
        args += ["--data", target.body, "--ignore-code", "401"]
    if pass_name == "tampered":
        args += ["--tamper", TAMPERS]
    return args


def shown_command(plan: Plan) -> str:
    """The command as the report shows it, for a GET target."""
    parts = command(Path("sqlmap"), 0, TARGETS[0], plan.passes[-1], plan, Path("RUN"))
    return shlex.join(parts).replace("127.0.0.1:0", "127.0.0.1:PORT")


def run_sqlmap(args: list[str], console: Path, cap: int) -> int:
    """sqlmap's exit status; 124 when it ran past `cap` seconds and was killed."""
    with console.open("wb") as out:
        try:
            return subprocess.run(args, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=cap, check=False).returncode
        except subprocess.TimeoutExpired:
            return 124


def run_one(system: System, sqlmap: Path, target: Target, pass_name: str, plan: Plan,
            folder: Path) -> dict:
    """One sqlmap run against a system started for it alone."""
    folder.mkdir(parents=True)
    started = time.monotonic()
    try:
        system.start()
        status = run_sqlmap(command(sqlmap, system.client.port, target, pass_name, plan, folder),
                            folder / "console.txt", plan.cap)
        exited = not system.shop.alive()
    finally:
        system.stop()
    run = observe(folder, status, system.events())
    run["shop_exited"] = exited
    run["seconds"] = round(time.monotonic() - started, 1)
    return run


def run_all(systems: dict[str, Callable[[str], Callable[[], System]]], sqlmap: Path,
            plan: Plan, work: Path) -> list[dict]:
    """Every target, pass by pass, against each system (a factory maker from `Setup`); each
    run's record carries its problems."""
    runs = []
    for system, factory in systems.items():
        for pass_name in plan.passes:
            for target in TARGETS:
                name = f"sqlmap-{system}-{pass_name}-{target.param}"
                print(f"  sqlmap: {system}, {pass_name}: {target.label} ({target.param})",
                      file=sys.stderr, flush=True)
                run = run_one(factory(name)(), sqlmap, target, pass_name, plan,
                              work / f"{name}-sqlmap")
                run.update(system=system, pass_name=pass_name, target=target.label,
                           param=target.param, name=name)
                run["problems"] = problems(run)
                runs.append(run)
    return runs


def keep_consoles(runs: list[dict], work: Path, out: Path) -> None:
    """Each run's console output in `out` (emptied first), where it outlives the work
    folder."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for run in runs:
        shutil.copyfile(work / f"{run['name']}-sqlmap" / "console.txt", out / f"{run['name']}.txt")


def evaluation_phase(setup: Setup, sqlmap: Path, short: bool, out: Path) -> dict:
    """The evaluation's sqlmap runs: the agent off (ground truth), Antibody after its
    learning period, and off-mode vulnshop behind the WAF."""
    plan = PLANS["short" if short else "full"]
    started = time.monotonic()
    runs = run_all({"off": setup.off, "protect": setup.agent, "waf": setup.waf}, sqlmap, plan,
                   setup.work)
    keep_consoles(runs, setup.work, out)
    return {"version": version(sqlmap), "plan": asdict(plan), "tampers": TAMPERS,
            "command": shown_command(plan), "runs": runs,
            "seconds": round(time.monotonic() - started)}


def version(sqlmap: Path) -> str:
    """`sqlmap --version`, or "" when it does not run."""
    try:
        done = subprocess.run([str(sqlmap), "--version"], capture_output=True, text=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def install(venv: Path) -> Path:
    """sqlmap from PyPI in the virtual environment `venv`, reused when it runs there."""
    sqlmap = venv / "bin" / "sqlmap"
    if version(sqlmap):
        return sqlmap
    print(f"installing sqlmap from PyPI into {venv}", file=sys.stderr, flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "check": False}
    if subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], **quiet).returncode:
        raise Unavailable("cannot create a Python virtual environment")
    if subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                       "--disable-pip-version-check", "sqlmap"], **quiet).returncode:
        raise Unavailable("cannot install sqlmap from PyPI")
    if not version(sqlmap):
        raise Unavailable(f"{sqlmap} does not run")
    return sqlmap


def in_ci() -> bool:
    """Under CI a missing tool fails; elsewhere its part is skipped with the reason."""
    return os.environ.get("CI") == "true"


def proof_table(runs: list[dict]) -> list[str]:
    out = ["| mode | pass | target (parameter) | injectable | requests | 403s | events checked |",
           "|---|---|---|---|---:|---:|---:|"]
    for run in runs:
        checked = (str(run["forbidden_by"].get(BLOCKED_INJECTION, 0))
                   if run["system"] == "protect" else "-")
        out.append(f"| {run['system']} | {run['pass_name']} | {run['target']} ({run['param']}) "
                   f"| {'yes' if injectable(run) else 'no'} | {run['requests']} "
                   f"| {run['forbidden']} | {checked} |")
    return out


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(prog="python3 -m eval.sqlmap",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--short", action="store_true",
                        help="level 1, risk 1, no tampers (for CI)")
    parser.add_argument("--binary", type=Path, default=repo / "target" / "release" / "vulnshop")
    parser.add_argument("--venv", type=Path, default=repo / "target" / "sqlmap-venv")
    args = parser.parse_args(argv)
    # A SIGTERM unwinds like an interrupt, so every vulnshop started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    who = "scripts/sqlmap"
    try:
        sqlmap = install(args.venv)
    except Unavailable as reason:
        if in_ci():
            print(f"{who}: {reason}", file=sys.stderr)
            return 1
        print(f"{who}: skipped: {reason}")
        return 0
    started = time.monotonic()
    plan = PLANS["short" if args.short else "full"]
    setup = Setup(args.binary, None)
    keep = True  # the runs' files, unless the run ends with its proof
    try:
        runs = run_all({"off": setup.off, "protect": setup.untaught}, sqlmap, plan, setup.work)
        print(f"\nsqlmap {version(sqlmap)}, {'short' if args.short else 'full'} run, "
              f"{time.strftime('%Y-%m-%d', time.gmtime())}, "
              f"{round(time.monotonic() - started)} s\n")
        print("\n".join(proof_table(runs)) + "\n")
        failures = [f"{run['system']} {run['pass_name']} {run['target']}: {problem}"
                    for run in runs for problem in run["problems"]]
        for failure in failures:
            print(f"{who}: FAILED: {failure}", file=sys.stderr)
        if failures:
            return 1
        print(f"{who}: injectable on every target with the agent off, on none in protect "
              "mode;\nevery 403 was a blocked sql_injection event")
        keep = False
        return 0
    finally:
        if keep:
            print(f"{who}: the runs' files are in {setup.work}", file=sys.stderr)
        else:
            shutil.rmtree(setup.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
