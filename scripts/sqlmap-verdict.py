#!/usr/bin/env python3
"""Judges one sqlmap run against vulnshop for scripts/sqlmap.

Reads sqlmap's console output, its output folder (`<host>/log` lists the injection points
it confirmed), its traffic file (`-t`) and the agent's events file, and prints one
tab-separated row: injectable (yes/no), requests, 403s, events checked. Every reason the
run does not prove what its mode must prove goes to standard error, and the exit status is
then 1.

In `off` mode sqlmap must find the parameter injectable and nothing may be refused. In
`protect` mode sqlmap must finish and find nothing, at least one request must have been
refused, and every 403 must carry an `x-antibody-event` id that the events file reports as
a blocked `sql_injection`: a block for any other reason (a rate threshold, a scanner's
User-Agent) would not show that the injection itself was stopped.
"""

import argparse
import glob
import json
import os
import re
import sys

FOUND = "sqlmap identified the following injection point(s)"
NOT_FOUND = "all tested parameters do not appear to be injectable"
PARAMETER = re.compile(r"^Parameter: (\S+) \((GET|POST)\)\s*$", re.MULTILINE)
REQUEST = re.compile(r"^HTTP request \[#(\d+)\]:", re.MULTILINE)
RESPONSE = re.compile(r"^HTTP response \[#(\d+)\] \((\d{3})[^)]*\):\r?$", re.MULTILINE)
# sqlmap closes every request/response pair in the traffic file with a line of 76 `#`.
SEPARATOR = re.compile(r"\r?\n#{76}\r?\n")
EVENT_HEADER = "x-antibody-event"


def read(path):
    with open(path, encoding="utf-8", errors="replace") as file:
        return file.read()


def injection_points(text):
    """The parameters sqlmap reported as injection points in `text`."""
    return {match.group(1) for match in PARAMETER.finditer(text)}


def logged_points(output_dir):
    """The injection points in the `log` file of each host folder sqlmap wrote."""
    points = set()
    for log in glob.glob(os.path.join(output_dir, "*", "log")):
        points |= injection_points(read(log))
    return points


def exchanges(traffic):
    """Each request in the traffic file as (status or None, event header value or None)."""
    found = []
    for block in SEPARATOR.split(traffic):
        if not REQUEST.search(block):
            continue
        response = RESPONSE.search(block)
        if response is None:
            found.append((None, None))
            continue
        event = None
        for line in block[response.end() :].lstrip("\r\n").splitlines():
            if not line.strip():
                break  # the headers end at the first empty line
            name, _, value = line.partition(":")
            if name.strip().lower() == EVENT_HEADER:
                event = value.strip()
        found.append((int(response.group(2)), event))
    return found


def events(path):
    """The events file as a map from id to (kind, action)."""
    by_id = {}
    if not os.path.exists(path):
        return by_id
    for line in read(path).splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "id" in event:
            by_id[event["id"]] = (event.get("kind"), event.get("action"))
    return by_id


def judge(args):
    problems = []
    console = read(args.console)
    said = FOUND in console and args.param in injection_points(console)
    logged = args.param in logged_points(args.output_dir)
    if said != logged:
        problems.append(
            f"sqlmap's console {'lists' if said else 'does not list'} `{args.param}` as an "
            f"injection point but its log {'does' if logged else 'does not'}"
        )
    injectable = said and logged
    # sqlmap exits 0 when it found an injection and 1 when it found none; anything else
    # (124 from `timeout`, 255 from a crash) means the run did not finish.
    finished = args.status in (0, 1)
    if not finished:
        problems.append(f"sqlmap did not finish (exit status {args.status})")

    traffic = exchanges(read(args.traffic)) if os.path.exists(args.traffic) else []
    if not traffic:
        problems.append("the traffic file records no request")
    forbidden = [event for status, event in traffic if status == 403]
    throttled = sum(1 for status, _ in traffic if status == 429)
    if throttled:
        problems.append(f"{throttled} request(s) answered 429: a threshold, not the detection")

    checked = 0
    if args.mode == "off":
        if not injectable:
            problems.append(f"sqlmap did not find `{args.param}` injectable with the agent off")
        if forbidden:
            problems.append(f"{len(forbidden)} request(s) answered 403 with the agent off")
    else:
        if injectable:
            problems.append(f"sqlmap found `{args.param}` injectable through the agent")
        elif finished and NOT_FOUND not in console:
            problems.append("sqlmap ended without its `not injectable` verdict")
        if not forbidden:
            problems.append("no request was answered 403: the agent never blocked")
        known = events(args.events)
        for event in forbidden:
            if event is None:
                problems.append(f"a 403 without an `{EVENT_HEADER}` header")
                continue
            kind, action = known.get(event, (None, None))
            if kind == "sql_injection" and action == "blocked":
                checked += 1
            elif kind is None:
                problems.append(f"403 event {event} is not in the events file")
            else:
                problems.append(
                    f"403 event {event} is `{kind}`/`{action}`, not a blocked sql_injection"
                )

    for problem in problems:
        print(f"sqlmap-verdict: {problem}", file=sys.stderr)
    events_column = str(checked) if args.mode == "protect" else "-"
    print(
        "\t".join(
            ["yes" if injectable else "no", str(len(traffic)), str(len(forbidden)), events_column]
        )
    )
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("off", "protect"), required=True)
    parser.add_argument("--param", required=True, help="the parameter sqlmap tested (-p)")
    parser.add_argument("--status", type=int, required=True, help="sqlmap's exit status")
    parser.add_argument("--console", required=True, help="sqlmap's standard output")
    parser.add_argument("--output-dir", required=True, help="sqlmap's --output-dir")
    parser.add_argument("--traffic", required=True, help="sqlmap's -t traffic file")
    parser.add_argument("--events", required=True, help="the ANTIBODY_EVENTS_FILE")
    return judge(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
