"""The evaluation: Antibody in protect mode beside a signature WAF, on vulnshop's SQL sinks.

    python3 -m eval [--short]

Phases: attacks judged by their effect with the agent off, second-order injection, false
positives on benign input, sqlmap, overhead. A full run writes `docs/evaluation.md`, a short
one `target/evaluation/evaluation.md`; the output folder gets the missed payloads, sqlmap's
console output and every raw count. Exits 1 when a target `eval.gate` checks was missed."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from . import corpora, gate, overhead, report, sqlmap, sqlshape
from .runner import PARAMS, Setup, run_parallel

SHORT = {"payloads": 300, "second_order": 20, "words": 200, "fortunes": 50,
         "benign_each": 100, "runs": 2, "seconds": 3, "counted_requests": 300}
FULL = {"payloads": None, "second_order": 100, "words": None, "fortunes": None,
        "benign_each": None, "runs": 9, "seconds": 4, "counted_requests": 2000}
SEED = "antibody-evaluation"


def show(value: bytes, limit: int = 120) -> str:
    """A payload as printable text: non-printing characters escaped, long ones cut."""
    text = value.decode("utf-8", "backslashreplace")
    out = []
    for ch in text:
        if ch == "\\" or ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def blocked_by_agent(record: dict) -> bool:
    return (record.get("status") == 403 and record.get("event_kind") == "sql_injection"
            and record.get("event_action") == "blocked")


def blocked_by_waf(record: dict) -> bool:
    return record.get("status") == 403 and "event" not in record


def split(records: list[dict]) -> tuple[list[dict], dict]:
    """A stream's per-job records, and what its events say in all (`reported_events`,
    `event_counts`, `agent_errors`)."""
    return records[:-1], records[-1]


def attack_phase(setup: Setup, payloads: list[corpora.Payload]) -> dict:
    jobs = [("attack", param, p.value) for param in PARAMS for p in payloads]
    started = time.monotonic()
    results = run_parallel({
        "attack-off": (setup.off("attack-off"), jobs, True),
        "attack-protect": (setup.agent("attack-protect"), jobs, False),
        "attack-waf": (setup.waf("attack-waf"), jobs, False),
    }, setup.work)
    off, _ = split(results["attack-off"])
    agent, agent_events = split(results["attack-protect"])
    waf, _ = split(results["attack-waf"])
    counts: dict[str, Counter] = defaultdict(Counter)
    missed: dict[str, list[dict]] = {"antibody": [], "waf": []}
    labels: dict[str, Counter] = {"antibody": Counter(), "waf": Counter()}
    blocked_examples: list[dict] = []
    effective_examples: dict[str, list[dict]] = defaultdict(list)
    failed_passed: dict[str, list[dict]] = {"antibody": [], "waf": []}
    reseeds = Counter()
    for index, (job, o, a, w) in enumerate(zip(jobs, off, agent, waf)):
        _, param, value = job
        payload = payloads[index % len(payloads)]
        endpoint = PARAMS[param][1]
        line = o["trace"][0] if o.get("trace") else None
        kind = sqlshape.effect(endpoint, line["sql"] if line else None,
                               bool(line and line["ok"]))
        if o.get("error"):
            kind = "timeout" if o["error"] == "timeout" else sqlshape.NOT_RUN
        for name, record in (("off", o), ("antibody", a), ("waf", w)):
            if record.get("reseeded"):
                reseeds[name] += 1
        c = counts[param]
        c["sent"] += 1
        c[kind] += 1
        ab, wb = blocked_by_agent(a), blocked_by_waf(w)
        c[f"{kind} antibody"] += ab
        c[f"{kind} waf"] += wb
        if a.get("status") == 403 and not ab:
            c["antibody other 403"] += 1
        if a.get("error"):
            c["antibody errors"] += 1
        if w.get("error"):
            c["waf errors"] += 1
        if w.get("status") not in (403, None) and w.get("status", 0) >= 400 and w.get(
                "status") not in (401, 404, 500):
            c[f"waf status {w.get('status')}"] += 1
        if kind == sqlshape.FAILED:
            for name, blocked in (("antibody", ab), ("waf", wb)):
                if not blocked:
                    failed_passed[name].append({"param": param, "payload": show(payload.value),
                                                "source": payload.source})
        if kind == sqlshape.EFFECTIVE:
            label = sqlshape.added(endpoint, payload.value.decode("utf-8", "replace"))
            if len(effective_examples[param]) < 4:
                effective_examples[param].append({"payload": show(payload.value, 80),
                                                  "added": label})
            for name, blocked, record in (("antibody", ab, a), ("waf", wb, w)):
                if not blocked:
                    labels[name][label] += 1
                    missed[name].append({
                        "param": param, "source": payload.source, "added": label,
                        "payload": show(payload.value, 400), "status": record.get("status"),
                        "statement": line["sql"],
                    })
        if kind == sqlshape.NO_EFFECT and ab:
            blocked_examples.append({"param": param, "payload": show(payload.value),
                                     "source": payload.source})
    totals = Counter()
    for c in counts.values():
        totals.update(c)
    return {
        "counts": {param: dict(c) for param, c in counts.items()},
        "totals": dict(totals),
        "missed": missed,
        "missed_labels": {k: dict(v) for k, v in labels.items()},
        "agent_blocked_no_effect": blocked_examples,
        "effective_examples": dict(effective_examples),
        "failed_passed": failed_passed,
        "agent_events": agent_events["event_counts"],
        "agent_errors": agent_events["agent_errors"],
        "reseeds": dict(reseeds),
        "seconds": round(time.monotonic() - started),
        "jobs": len(jobs),
    }


def probe_phase(setup: Setup) -> list[dict]:
    """The hand-written probes, each judged and answered like a corpus payload."""
    jobs = [("attack", param, value.encode()) for param, value in corpora.PROBES]
    results = run_parallel({
        "probe-off": (setup.off("probe-off"), jobs, True),
        "probe-protect": (setup.agent("probe-protect"), jobs, False),
        "probe-waf": (setup.waf("probe-waf"), jobs, False),
    }, setup.work)
    rows = []
    for (_, param, value), o, a, w in zip(jobs, split(results["probe-off"])[0],
                                          split(results["probe-protect"])[0],
                                          split(results["probe-waf"])[0]):
        endpoint = PARAMS[param][1]
        line = o["trace"][0] if o.get("trace") else None
        kind = sqlshape.effect(endpoint, line["sql"] if line else None,
                               bool(line and line["ok"]))
        rows.append({"param": param, "payload": show(value), "effect": kind,
                     "added": sqlshape.added(endpoint, value.decode()) if kind == sqlshape.EFFECTIVE
                     else "", "off": o.get("status"), "antibody": blocked_by_agent(a),
                     "antibody_status": a.get("status"), "waf": blocked_by_waf(w),
                     "waf_status": w.get("status")})
    return rows


def second_order_phase(setup: Setup, payloads: list[corpora.Payload], effective: list[int],
                       count: int) -> dict:
    chosen = corpora.sample([payloads[i] for i in effective], count, SEED)
    jobs = [("second", p.value) for p in chosen]
    results = run_parallel({
        "second-off": (setup.off("second-off"), jobs, True),
        "second-protect": (setup.agent("second-protect"), jobs, False),
        "second-strict": (setup.agent("second-strict", strict=True), jobs, False),
        "second-waf": (setup.waf("second-waf"), jobs, False),
    }, setup.work)
    off, _ = split(results["second-off"])
    default, default_events = split(results["second-protect"])
    strict, strict_events = split(results["second-strict"])
    waf, _ = split(results["second-waf"])
    reported_statements = Counter(
        e["statement"] for e in default_events["reported_events"]
        if e["path"] == "/reviews/author-stats" and e["kind"] == "sql_anomaly")
    c = Counter()
    examples = []
    for payload, o, d, s, w in zip(chosen, off, default, strict, waf):
        c["sent"] += 1
        line = o["trace"][-1] if o.get("trace") else None
        kind = sqlshape.effect("/reviews/author-stats", line["sql"] if line else None,
                               bool(line and line["ok"]))
        c[kind] += 1
        if kind != sqlshape.EFFECTIVE:
            continue
        statement = sqlshape.TEMPLATES["/reviews/author-stats"].format(
            payload.value.decode("utf-8", "replace"))
        default_blocked = d.get("status") == 403
        default_reported_it = reported_statements[statement] > 0
        strict_blocked = s.get("status") == 403 and s.get("event_kind") in (
            "sql_anomaly", "sql_injection") and s.get("event_action") == "blocked"
        waf_blocked = w.get("store", {}).get("status") == 403 or w.get("status") == 403
        c["default reported"] += default_reported_it and not default_blocked
        c["default blocked"] += default_blocked
        c["strict blocked"] += strict_blocked
        c["strict kinds " + str(s.get("event_kind"))] += 1
        c["waf blocked"] += waf_blocked
        c["waf blocked at store"] += w.get("store", {}).get("status") == 403
        if not strict_blocked or not default_reported_it:
            examples.append({"payload": show(payload.value), "default": d.get("status"),
                             "reported": default_reported_it, "strict": s.get("status"),
                             "strict_kind": s.get("event_kind")})
    return {"counts": dict(c), "antibody_gaps": examples[:10],
            "events": {"default": default_events["event_counts"],
                       "strict": strict_events["event_counts"]},
            "agent_errors": {"default": default_events["agent_errors"],
                             "strict": strict_events["agent_errors"]}}


def false_positive_phase(setup: Setup, sets: dict[str, list[corpora.Payload]]) -> dict:
    jobs = []
    where = []
    for set_name, inputs in sets.items():
        for payload in inputs:
            targets = ["/safe/products", "/reviews", "/safe/reviews"]
            if b"'" not in payload.value and b"\0" not in payload.value:
                # A value without a quote stays inside the quoted literal of the vulnerable
                # query (SQLite has no backslash escapes), so it must pass there too.
                targets.insert(1, "/products")
            for target in targets:
                jobs.append(("fp", target, payload.value))
                where.append((set_name, target, payload))
    started = time.monotonic()
    results = run_parallel({
        "fp-protect": (setup.agent("fp-protect"), jobs, False),
        "fp-waf": (setup.waf("fp-waf"), jobs, False),
    }, setup.work)
    agent, agent_events = split(results["fp-protect"])
    waf, _ = split(results["fp-waf"])
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    examples: dict[str, list[dict]] = {"antibody": [], "waf": []}
    for (set_name, target, payload), a, w in zip(where, agent, waf):
        c = counts[(set_name, target)]
        c["sent"] += 1
        c["antibody"] += a.get("status") == 403
        c["waf"] += w.get("status") == 403
        c["antibody errors"] += bool(a.get("error"))
        c["waf errors"] += bool(w.get("error"))
        for name, record in (("antibody", a), ("waf", w)):
            if record.get("status") == 403:
                examples[name].append({"set": set_name, "target": target,
                                       "payload": show(payload.value),
                                       "source": payload.source,
                                       "kind": record.get("event_kind")})
    return {
        "counts": [{"set": s, "target": t, **dict(c)} for (s, t), c in counts.items()],
        "sizes": {name: len(inputs) for name, inputs in sets.items()},
        "examples": examples,
        "agent_events": agent_events["event_counts"],
        "agent_errors": agent_events["agent_errors"],
        "seconds": round(time.monotonic() - started),
        "jobs": len(jobs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m eval", description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true",
                        help="a few hundred payloads, sqlmap at level 1, 2 x 3 s wrk runs")
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--binary", type=Path)
    parser.add_argument("--waf-script", type=Path)
    parser.add_argument("--out", type=Path, help="folder for missed payloads and raw results")
    parser.add_argument("--report", type=Path, help="the Markdown report to write "
                        "(default: docs/evaluation.md, for a short run OUT/evaluation.md)")
    parser.add_argument("--sqlmap-venv", type=Path,
                        help="where sqlmap is installed from PyPI (default: target/sqlmap-venv)")
    parser.add_argument("--command", default="scripts/evaluate", help="the command shown in the report")
    parser.add_argument("--keep", action="store_true", help="keep the run's temporary folder")
    parser.add_argument("--from-results", type=Path, metavar="JSON",
                        help="write the report from a run's results.json, without running")
    args = parser.parse_args(argv)
    # A SIGTERM unwinds like an interrupt, so every server started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.binary = args.binary or args.repo / "target" / "release" / "vulnshop"
    args.waf_script = args.waf_script or corpora.corpora_root(args.repo).parent / "waf" / "waf-baseline.sh"
    args.out = args.out or args.repo / "target" / "evaluation"
    args.sqlmap_venv = args.sqlmap_venv or args.repo / "target" / "sqlmap-venv"
    if args.from_results:
        results = json.loads(args.from_results.read_text())
        report.write(report_path(args, results["short"]), results, args)
        return 0
    plan = SHORT if args.short else FULL
    started = time.monotonic()
    root = corpora.corpora_root(args.repo)
    if not (root / "sqli").is_dir():
        print(f"eval: no corpora in {root} (set ANTIBODY_CORPORA)", file=sys.stderr)
        return 1
    sqlmap_path, sqlmap_skipped = install_sqlmap(args.sqlmap_venv)
    if sqlmap_path is None and sqlmap.in_ci():
        return 1
    if shutil.which("callgrind_control") is None and sqlmap.in_ci():
        print("eval: valgrind is not installed (callgrind counts each request's instructions)",
              file=sys.stderr)
        return 1
    all_payloads, lines = corpora.sqli_payloads(root)
    payloads = corpora.sample(all_payloads, plan["payloads"], SEED)
    setup = Setup(args.binary, args.waf_script)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        print(f"eval: attacks: {len(payloads)} payloads x {len(PARAMS)} parameters x 3 systems",
              file=sys.stderr, flush=True)
        attacks = attack_phase(setup, payloads)
        print(f"eval: attacks done in {attacks['seconds']} s", file=sys.stderr, flush=True)

        print("eval: hand-written probes", file=sys.stderr, flush=True)
        probes = probe_phase(setup)
        effective_category = _effective_indices(setup, payloads)
        print("eval: second-order injection", file=sys.stderr, flush=True)
        second = second_order_phase(setup, payloads, effective_category, plan["second_order"])

        available = {
            "libinjection false positives": corpora.libinjection_false_positives(root),
            "blns (benign sections)": corpora.blns_benign(root),
            "words with an apostrophe": corpora.apostrophe_words(),
            "fortunes": corpora.fortunes(),
            "SQL and shell snippets": corpora.snippets(),
        }
        limits = {"words with an apostrophe": plan["words"], "fortunes": plan["fortunes"],
                  "SQL and shell snippets": None}
        benign_sets = {name: corpora.sample(inputs, limits.get(name, plan["benign_each"]), SEED)
                       for name, inputs in available.items()}
        print("eval: false positives: " + ", ".join(
            f"{len(v)} {k}" for k, v in benign_sets.items()), file=sys.stderr, flush=True)
        false_positives = false_positive_phase(setup, benign_sets)
        false_positives["available"] = {name: len(inputs) for name, inputs in available.items()}
        print(f"eval: false positives done in {false_positives['seconds']} s",
              file=sys.stderr, flush=True)

        if sqlmap_path is None:
            sqlmap_phase = {"skipped": sqlmap_skipped}
        else:
            print("eval: sqlmap", file=sys.stderr, flush=True)
            sqlmap_phase = sqlmap.evaluation_phase(setup, sqlmap_path, args.short,
                                                   args.out / "sqlmap")
            print(f"eval: sqlmap done in {sqlmap_phase['seconds']} s", file=sys.stderr,
                  flush=True)

        print("eval: overhead", file=sys.stderr, flush=True)
        cost = overhead.measure(setup.binary, setup.work, setup.waf_script, plan["runs"],
                                plan["seconds"])
        cost["instructions"] = overhead.instructions(setup.binary, setup.work,
                                                     plan["counted_requests"])
    finally:
        if not args.keep:
            shutil.rmtree(setup.work, ignore_errors=True)
        else:
            print(f"eval: run files kept in {setup.work}", file=sys.stderr)
    elapsed = round(time.monotonic() - started)
    results = {
        "short": args.short, "plan": plan, "elapsed_seconds": elapsed,
        "command": args.command, "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "versions": report.versions(args.repo), "machine": report.machine(),
        "corpus": {"lines": lines, "distinct": len(all_payloads), "sent": len(payloads)},
        "attacks": attacks, "probes": probes, "second_order": second, "false_positives": false_positives,
        "sqlmap": sqlmap_phase, "overhead": cost,
    }
    results["missed_targets"] = gate.misses(results)
    write_outputs(args, results)
    path = report_path(args, args.short)
    report.write(path, results, args)
    print(f"eval: done in {elapsed} s; report: {path}", file=sys.stderr)
    for missed in results["missed_targets"]:
        print(f"eval: MISSED: {missed}", file=sys.stderr)
    if results["missed_targets"]:
        return 1
    print("eval: every target met", file=sys.stderr)
    return 0


def report_path(args: argparse.Namespace, short: bool) -> Path:
    """`--report`, or where a run of its kind goes: the committed report is the full run's."""
    if args.report:
        return args.report
    return args.out / "evaluation.md" if short else args.repo / "docs" / "evaluation.md"


def install_sqlmap(venv: Path) -> tuple[Path | None, str]:
    """sqlmap, or None and why not (printed: under CI the run then fails, elsewhere its
    phase is skipped)."""
    try:
        return sqlmap.install(venv), ""
    except sqlmap.Unavailable as reason:
        verdict = "" if sqlmap.in_ci() else " (the sqlmap phase is skipped)"
        print(f"eval: sqlmap: {reason}{verdict}", file=sys.stderr)
        return None, str(reason)


def _effective_indices(setup: Setup, payloads: list[corpora.Payload]) -> list[int]:
    """Indices of the payloads that were effective on `/products?category=` in off mode (the
    attack jobs go parameter by parameter, category first)."""
    records = json.loads((setup.work / "attack-off.records.json").read_text())[:-1]
    found = []
    for index, record in enumerate(records[: len(payloads)]):
        line = record["trace"][0] if record.get("trace") else None
        if line and sqlshape.effect("/products", line["sql"], line["ok"]) == sqlshape.EFFECTIVE:
            found.append(index)
    return found


def write_outputs(args: argparse.Namespace, results: dict) -> None:
    """The missed payloads (one TSV per system) and every count (JSON)."""
    for name, rows in results["attacks"]["missed"].items():
        path = args.out / f"missed-{name}.tsv"
        with path.open("w", encoding="utf-8") as out:
            out.write("parameter\tadded\tstatus\tsource\tpayload\n")
            for row in rows:
                out.write(f"{row['param']}\t{row['added']}\t{row['status']}\t{row['source']}\t"
                          f"{row['payload']}\n")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
