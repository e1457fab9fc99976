"""`docs/evaluation.md`, written from one run's results."""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
from collections import Counter
from pathlib import Path

from . import sqlmap, sqlshape
from .client import USER_AGENT
from .runner import PARAMS, WARMUP_CALLS

PARAM_LABELS = {
    "category": "`GET /products?category=`",
    "id": "`GET /product?id=`",
    "order": "`GET /products/sorted?order=`",
    "username": "`POST /login` username",
    "password": "`POST /login` password",
}


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout + done.stderr).strip()


def _package(name: str) -> str:
    return _run(["dpkg-query", "-W", "-f", "${Version}", name]) or "not installed"


def versions(repo: Path) -> dict[str, str]:
    lock = (repo / "Cargo.lock").read_text() if (repo / "Cargo.lock").exists() else ""

    def crate(name: str) -> str:
        found = re.search(rf'name = "{re.escape(name)}"\nversion = "([^"]+)"', lock)
        return found.group(1) if found else "?"

    commit = _run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"]) or "?"
    if _run(["git", "-C", str(repo), "status", "--porcelain", "--", "crates", "examples"]):
        commit += " (with uncommitted changes to crates/ or examples/)"
    nginx = _run(["nginx", "-v"]).replace("nginx version: ", "")
    return {
        "commit": commit,
        "rustc": _run(["rustc", "-V"]),
        "vulnshop database": f"SQLite bundled with libsqlite3-sys {crate('libsqlite3-sys')} "
                            f"(sqlx {crate('sqlx')}, rusqlite {crate('rusqlite')})",
        "nginx": nginx,
        "ModSecurity": f"libmodsecurity3 {_package('libmodsecurity3')}, nginx connector "
                       f"libnginx-mod-http-modsecurity {_package('libnginx-mod-http-modsecurity')}",
        "Core Rule Set": f"modsecurity-crs {_package('modsecurity-crs')}",
        "wrk": _package("wrk"),
        "Python": platform.python_version(),
    }


def machine() -> str:
    model = "?"
    memory = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    system = _run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"])
    return (f"{os.cpu_count()} cores (`nproc`), \"{model}\", {memory} of memory, {system}, "
            f"Linux {platform.release()}")


def _mib(kib: int | None) -> str:
    return f"{kib / 1024:.0f} MiB" if kib else "?"


def _pct(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.1f}%)" if whole else str(part)


def _cell(text: str) -> str:
    """Text for a Markdown table cell inside backticks."""
    text = text.replace("|", "\\|").replace("\n", "\\n")
    if "`" in text:
        return "``" + text + " ``" if text.endswith("`") else "`` " + text + " ``"
    return f"`{text}`" if text else "(empty)"


def attack_tables(attacks: dict) -> list[str]:
    out = [
        "| parameter | payloads sent | effective | blocked by Antibody | blocked by the WAF "
        "| missed by Antibody | missed by the WAF |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    rows = [(PARAM_LABELS[p], attacks["counts"][p]) for p in PARAMS if p in attacks["counts"]]
    rows.append(("**total**", attacks["totals"]))
    for label, c in rows:
        eff = c.get("effective", 0)
        ab, wb = c.get("effective antibody", 0), c.get("effective waf", 0)
        out.append(f"| {label} | {c.get('sent', 0)} | {eff} | {_pct(ab, eff)} | {_pct(wb, eff)} "
                   f"| {eff - ab} | {eff - wb} |")
    out += [
        "",
        "The payloads without an effect, and what each system did with them (blocked by "
        "Antibody / by the WAF):",
        "",
        "| parameter | broke the statement, SQLite refused it | broke out, comments only "
        "| stayed a value | no statement ran |",
        "|---|--:|--:|--:|--:|",
    ]
    for label, c in rows:
        cells = []
        for kind in (sqlshape.FAILED, sqlshape.COSMETIC, sqlshape.NO_EFFECT):
            n = c.get(kind, 0)
            cells.append(f"{n}: {c.get(f'{kind} antibody', 0)} / {c.get(f'{kind} waf', 0)}")
        cells.append(str(c.get(sqlshape.NOT_RUN, 0) + c.get("timeout", 0)))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def missed_section(attacks: dict, name: str, title: str) -> list[str]:
    rows = attacks["missed"][name]
    out = [f"### {title}", ""]
    if name == "waf":
        out += [
            "How the WAF decides: each CRS rule that matches a request argument adds to an "
            "anomaly score (critical 5, error 4, warning 3, notice 2), and at paranoia level 1 "
            "the request is refused at 5. The SQL rules match patterns in the argument "
            "(libinjection's fingerprints, keywords, operators, comment sequences); the WAF "
            "never sees the statement the argument ends up in, so it cannot tell a string "
            "that leaves its literal from one that stays inside it.",
            "",
        ]
    else:
        out += [
            "How Antibody decides: it finds each request input in the statement about to run "
            "and blocks it when the input spans more than a value (it closed a literal, added "
            "an operator, a keyword, a comment or a statement), or when a lone name or keyword "
            "from the input gives a statement a structure its call site never ran while "
            "learning.",
            "",
        ]
    if not rows:
        return out + ["It missed no effective payload.", ""]
    labels = Counter(row["added"] for row in rows)
    out += [f"{len(rows)} effective payloads passed. What they added to the statement:", "",
            "| the payload added | missed | examples (parameter) |", "|---|--:|---|"]
    by_label: dict[str, list[dict]] = {}
    for row in rows:
        by_label.setdefault(row["added"], []).append(row)
    for label, n in labels.most_common():
        shown: list[str] = []
        for row in by_label[label]:
            text = f"{_cell(row['payload'][:90])} ({row['param']})"
            if text not in shown:
                shown.append(text)
            if len(shown) == 3:
                break
        out.append(f"| {label} | {n} | {'; '.join(shown)} |")
    out += ["", "The statements SQLite ran for the first of them:", ""]
    for row in rows[:6]:
        out.append(f"- {row['param']}, {row['source']}, answered {row['status']}: "
                   f"{_cell(row['statement'][:160])}")
    out.append("")
    return out


def failed_passed_lines(attacks: dict) -> list[str]:
    """Payloads that broke the statement (SQLite refused it) and still passed a system."""
    out = []
    for name, title in (("antibody", "Antibody"), ("waf", "The WAF")):
        rows = attacks.get("failed_passed", {}).get(name, [])
        if not rows:
            continue
        short = sum(len(row["payload"]) == 1 for row in rows)
        note = (f" {short} of them are one character long, which Antibody does not judge "
                "(too short to tell an attack from data)." if name == "antibody" and short else "")
        out.append(f"{title} let {len(rows)} payloads through that broke the statement, which "
                   "SQLite then refused (no effect here, but such an error is how an attacker "
                   f"finds an injection).{note} For example:")
        out.append("")
        for row in rows[:5]:
            out.append(f"- {row['param']}: {_cell(row['payload'])} ({row['source']})")
        out.append("")
    return out


def probe_lines(probes: list[dict]) -> list[str]:
    def verdict(blocked: bool, status: int | None) -> str:
        return "blocked" if blocked else f"passed ({status})"

    effective = [p for p in probes if p["effect"] == sqlshape.EFFECTIVE]
    out = [
        "### Hand-written probes",
        "",
        f"The corpora are generic strings, mostly written for MySQL and for a number or a "
        f"quoted string. These {len(probes)} probes (`eval/corpora.py`) are what an attacker "
        "who reads vulnshop's error pages would try next against these statements; they are "
        "sent and judged the same way. Of the "
        f"{len(effective)} effective ones, Antibody blocked "
        f"{sum(p['antibody'] for p in effective)} and the WAF {sum(p['waf'] for p in effective)}.",
        "",
        "| parameter | payload | effect in off mode | Antibody | the WAF |",
        "|---|---|---|---|---|",
    ]
    for p in probes:
        effect = p["effect"] + (f" ({p['added']})" if p["added"] else "")
        out.append(f"| {p['param']} | {_cell(p['payload'])} | {effect} "
                   f"| {verdict(p['antibody'], p['antibody_status'])} "
                   f"| {verdict(p['waf'], p['waf_status'])} |")
    out.append("")
    return out


def effective_examples(attacks: dict) -> list[str]:
    out = ["Examples of effective payloads:", "", "| parameter | payload | added |",
           "|---|---|---|"]
    for param, rows in attacks.get("effective_examples", {}).items():
        for row in rows:
            out.append(f"| {PARAM_LABELS[param]} | {_cell(row['payload'])} | {row['added']} |")
    out.append("")
    return out


def _restarts(reseeds: dict) -> str:
    names = {"off": "ground truth", "antibody": "Antibody", "waf": "the WAF's vulnshop"}
    return ", ".join(f"{names.get(k, k)} {v}" for k, v in reseeds.items()) or "none"


def event_lines(phase: str, counts: dict, errors: dict) -> list[str]:
    """What Antibody's events file holds for a phase; an `agent_error` is a check that
    failed, after which the statement ran unchecked."""
    shown = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"
    out = [f"Antibody's events in {phase}: {shown}."]
    if errors:
        total = sum(errors.values())
        out.append(f"**{total} checks failed inside the agent** (`agent_error`: the statement ran "
                   "unchecked): " + "; ".join(f"{n} x `{message}`"
                                               for message, n in errors.items()) + ".")
    out.append("")
    return out


def second_order_lines(second: dict) -> list[str]:
    c = second["counts"]
    eff = c.get("effective", 0)
    out = [
        "| payloads stored as review authors | effective in off mode | Antibody (default): "
        "reported, not blocked | Antibody (`ANTIBODY_STRICT=true`): blocked | WAF: blocked "
        "(when storing / in all) |",
        "|--:|--:|--:|--:|--:|",
        f"| {c.get('sent', 0)} | {eff} | {c.get('default reported', 0)} "
        f"| {c.get('strict blocked', 0)} | {c.get('waf blocked at store', 0)} / "
        f"{c.get('waf blocked', 0)} |",
        "",
    ]
    if c.get("default blocked"):
        out.append(f"In the default mode {c['default blocked']} of them were blocked (403).")
        out.append("")
    for mode in ("default", "strict"):
        out += event_lines(f"the {mode} second-order run", second["events"][mode],
                           second["agent_errors"][mode])
    if second["antibody_gaps"]:
        out.append("Payloads where Antibody did not do what the row says:")
        out.append("")
        for gap in second["antibody_gaps"]:
            out.append(f"- {_cell(gap['payload'])}: default {gap['default']} (reported: "
                       f"{gap['reported']}), strict {gap['strict']} ({gap['strict_kind']})")
        out.append("")
    return out


SYSTEM_LABELS = {"off": "agent off", "protect": "Antibody", "waf": "the WAF"}


def target_text(target: sqlmap.Target) -> str:
    return f"POST {target.path} {target.body}" if target.body else target.path


def sqlmap_plan(phase: dict) -> str:
    plan = phase["plan"]
    passes = (f"a plain pass, then a pass with the tamper scripts `{phase['tampers']}`"
              if "tampered" in plan["passes"] else "one pass, no tamper scripts")
    return f"level {plan['level']}, risk {plan['risk']}, {passes}"


def sqlmap_found_in(phase: dict, system: str) -> list[dict]:
    return [run for run in phase["runs"] if run["system"] == system and sqlmap.injectable(run)]


def sqlmap_intro(phase: dict) -> list[str]:
    tampered = "tampered" in phase["plan"]["passes"]
    return [
        f"sqlmap {phase['version']}, from PyPI, {sqlmap_plan(phase)}"
        + (" (rewrites SQLite still runs: comments for spaces, `BETWEEN` for comparisons, "
           "keywords in random case; the command below is the tampered pass's, the plain pass "
           "runs it without `--tamper`)" if tampered else "")
        + ". It adapts: it picks its next payloads from the answers it gets, and when its "
        "heuristics see a WAF it switches to browser-like headers. It attacks "
        + ", ".join(f"`{target_text(target)}` ({target.param})" for target in sqlmap.TARGETS)
        + ", the targets of `scripts/sqlmap`, each sqlmap run on a freshly started system of "
        "its own: the agent off, Antibody (protect mode, after the learning period) and "
        "off-mode vulnshop behind the WAF. An injection point counts when sqlmap lists it both "
        "on its console and in its `log` file; the techniques are those it confirmed. Requests "
        "and 403s are counted in its traffic file (`-t`); each of Antibody's 403s is explained "
        "by the event its `x-antibody-event` header names in the events file (the WAF's 403s "
        "are nginx's own). What counts as found and what explains a 403 are decided in "
        "`eval/sqlmap.py`, which `scripts/sqlmap` uses too.",
        "",
        "```sh",
        phase["command"],
        "```",
        "",
    ]


def _sqlmap_found(run: dict) -> str:
    """Whether sqlmap found the run's parameter injectable, and with which techniques."""
    techniques = sqlmap.techniques(run)
    if techniques:
        # Expected with the agent off; through a protection it is news.
        found = "yes" if run["system"] == "off" else "**yes**"
        return f"{found}: " + ", ".join(techniques)
    if run["status"] not in sqlmap.FINISHED:
        return f"no (sqlmap did not finish: exit status {run['status']})"
    return "no"


def sqlmap_table(phase: dict) -> list[str]:
    """One row per run, each target's rows together (pass, then system)."""
    targets = [target.label for target in sqlmap.TARGETS]
    passes = list(phase["plan"]["passes"])
    systems = list(SYSTEM_LABELS)
    runs = sorted(phase["runs"], key=lambda run: (
        targets.index(run["target"]), passes.index(run["pass_name"]),
        systems.index(run["system"])))
    out = ["| target (parameter) | pass | system | injection point found | requests | 403s "
           "| Antibody's events for its 403s |",
           "|---|---|---|---|--:|--:|---|"]
    for run in runs:
        reasons = "-"
        if run["system"] == "protect":
            reasons = ", ".join(f"{count} {reason}"
                                for reason, count in run["forbidden_by"].items()) or "none"
        out.append(f"| {run['target']} ({run['param']}) | {run['pass_name']} "
                   f"| {SYSTEM_LABELS[run['system']]} | {_sqlmap_found(run)} | {run['requests']} "
                   f"| {run['forbidden']} | {reasons} |")
    return out + [""]


def sqlmap_summary(phase: dict) -> list[str]:
    runs = phase["runs"]
    each = len(runs) // len(SYSTEM_LABELS)
    found = {system: sqlmap_found_in(phase, system) for system in SYSTEM_LABELS}
    out = [f"sqlmap found an injection point in {len(found['off'])} of {each} runs with the "
           f"agent off, in {len(found['protect'])} through Antibody and in {len(found['waf'])} "
           "through the WAF."]
    for system in ("protect", "waf"):
        if found[system]:
            out.append(f"It got through {SYSTEM_LABELS[system]} on: " + "; ".join(
                f"{run['target']} ({run['param']}), {run['pass_name']} pass, with "
                + ", ".join(sqlmap.techniques(run)) for run in found[system]) + ".")
    saw = {system: sum(run["saw_waf"] for run in runs if run["system"] == system)
           for system in SYSTEM_LABELS}
    out.append(f"Its heuristics reported a WAF/IPS in {saw['waf']} of {each} runs against the "
               f"WAF, {saw['protect']} against Antibody and {saw['off']} with the agent off.")
    troubled = [run for run in runs if run["problems"]]
    if troubled:
        out += ["", "Runs that did not show what their system must show (with the agent off: "
                "found, nothing refused; through Antibody: not found, every 403 a blocked "
                "sql_injection; behind the WAF: sqlmap finished):", ""]
        out += [f"- {SYSTEM_LABELS[run['system']]}, {run['pass_name']}, {run['target']} "
                f"({run['param']}): " + "; ".join(run["problems"]) for run in troubled]
    return out + ["", f"The sqlmap runs took {phase['seconds']} s; their console output is in "
                  "`target/evaluation/sqlmap/`.", ""]


def sqlmap_lines(phase: dict) -> list[str]:
    if "runs" not in phase:
        return [f"Not run: {phase['skipped']}.", ""]
    return [*sqlmap_intro(phase), *sqlmap_table(phase), *sqlmap_summary(phase)]


def fp_lines(fps: dict) -> list[str]:
    out = ["| benign inputs | sent to | requests | wrongly blocked by Antibody "
           "| wrongly blocked by the WAF |", "|---|---|--:|--:|--:|"]
    total = Counter()
    for row in fps["counts"]:
        target = row["target"]
        where = f"`POST {target}` body" if "reviews" in target else f"`GET {target}?category=`"
        out.append(f"| {row['set']} | {where} | {row['sent']} | {row.get('antibody', 0)} "
                   f"| {row.get('waf', 0)} |")
        total.update({k: row.get(k, 0) for k in ("sent", "antibody", "waf")})
    out.append(f"| **total** | | {total['sent']} | {_pct(total['antibody'], total['sent'])} "
               f"| {_pct(total['waf'], total['sent'])} |")
    out.append("")
    for name, title in (("antibody", "Antibody"), ("waf", "The WAF")):
        examples = fps["examples"][name]
        if not examples:
            out.append(f"{title} blocked none of them.")
            out.append("")
            continue
        out.append(f"{title}: examples of benign inputs blocked ({len(examples)} requests in all):")
        out.append("")
        seen = set()
        for example in examples:
            key = (example["set"], example["payload"])
            if key in seen:
                continue
            seen.add(key)
            out.append(f"- {example['set']}, {example['target']}: {_cell(example['payload'][:100])}")
            if len(seen) == 8:
                break
        out.append("")
    return out


def overhead_lines(cost: dict) -> list[str]:
    base = cost["off"]
    out = ["| setup | requests/s | vs off | vs off, per round | vulnshop CPU per request "
           "| p50 latency | p99 latency | vulnshop peak RSS | RSS after 12 s idle |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    names = {"off": "agent off", "monitor": "monitor", "protect": "protect",
             "waf": "agent off, behind the WAF"}
    for name in ("off", "monitor", "protect", "waf"):
        r = cost[name]
        cpu = f"{r['cpu_us']:.1f} µs" if r.get("cpu_us") is not None else "?"
        per_round = f"{r['round_ratio']:.3f}" if r.get("round_ratio") is not None else "?"
        out.append(f"| {names[name]} | {r['rps']:.0f} | {r['rps'] / base['rps']:.3f} "
                   f"| {per_round} | {cpu} | {r['p50']:.2f} ms | {r['p99']:.2f} ms "
                   f"| {_mib(r['peak_rss_kib'])} | {_mib(r.get('settled_rss_kib'))} |")
    out.append("")
    out.append("\"vs off, per round\" is the median of each run's requests/s over the off run of the "
               "same round, so that drift on a shared machine cancels out. CPU per request is the "
               "user and system time vulnshop used during a run over the requests it answered "
               "(behind the WAF, nginx's own time is not counted). The agent lets its symbol "
               "tables go after ten idle seconds; the last column is vulnshop's resident memory "
               "twelve seconds after the runs.")
    out.append("")
    bad = {name: cost[name]["non2xx"] for name in ("off", "monitor", "protect", "waf")
           if cost[name]["non2xx"]}
    if bad:
        out.append(f"Non-2xx answers during the runs: {bad}.")
        out.append("")
    out.append("Each run's requests/s, in the order measured: " + "; ".join(
        f"{name} " + ", ".join(f"{v:.0f}" for v in cost[name]["runs"])
        for name in ("off", "monitor", "protect", "waf")) + ".")
    if "load" in cost:
        out.append(f"Load average (1 min) before the runs: {cost['load']['before']:.2f}, after: "
                   f"{cost['load']['after']:.2f}; the machine is shared, so runs vary.")
    if "steal" in cost:
        out.append(f"The hypervisor took {cost['steal']:.1%} of the processors' time during the "
                   "runs (steal time in /proc/stat).")
    if cost.get("nginx_worker_peak_rss_kib"):
        out.append(f"The nginx worker (with ModSecurity and the CRS loaded) peaked at "
                   f"{cost['nginx_worker_peak_rss_kib'] / 1024:.1f} MiB, on top of vulnshop's.")
    out.append("")
    return out


def write(path: Path, results: dict, args: argparse.Namespace) -> None:
    attacks = results["attacks"]
    fps = results["false_positives"]
    cost = results["overhead"]
    plan = results["plan"]
    v = results.get("versions") or versions(args.repo)
    kind = "short" if results["short"] else "full"
    corpus = results["corpus"]
    t = attacks["totals"]
    eff = t.get("effective", 0)
    lines = [
        "# Evaluation: Antibody beside a signature WAF",
        "",
        f"Generated by `{results['command']}` ({kind} run) on {results['date']}"
        f" in {results['elapsed_seconds'] // 60} min {results['elapsed_seconds'] % 60} s. "
        "Do not edit: run the command again.",
        "",
        "```sh",
        "scripts/evaluate           # the full run: writes docs/evaluation.md",
        "scripts/evaluate --short   # a few minutes: writes target/evaluation/evaluation.md",
        "```",
        "",
        "The full run sends every payload, runs sqlmap at level 3 with and without tamper "
        "scripts, and 9 x 4 s wrk runs per setup; the short run a few hundred payloads, sqlmap "
        "at level 1 and 2 x 3 s wrk runs. The command installs what it needs from Debian (nginx "
        "with ModSecurity v3 and the OWASP CRS, wrk, the word list and fortunes; it needs root "
        "for that) and sqlmap from PyPI (into `target/sqlmap-venv`), builds vulnshop, and runs "
        "`python3 -m eval` (standard library only). It reads the public corpora from "
        "`ANTIBODY_CORPORA` (default `../shared/corpora`) and the WAF's start script from "
        "beside them (`../shared/waf/waf-baseline.sh`). It exits non-zero when a run misses a "
        "target of `eval/gate.py`: every effective attack (corpus payload, probe, second-order "
        "payload in strict mode) blocked by Antibody, no benign input blocked, sqlmap finding "
        "every target with the agent off and none through Antibody, and every payload class "
        "effective somewhere (else the harness is broken). `scripts/test` (and so CI) runs the short version.",
        "",
        "## Headline",
        "",
        f"- Attacks: of {t.get('sent', 0)} payload deliveries ({corpus['sent']} distinct SQL "
        f"injection strings x {len(PARAMS)} parameters), {eff} changed the statement SQLite ran. "
        f"Antibody blocked {_pct(t.get('effective antibody', 0), eff)}, the WAF "
        f"{_pct(t.get('effective waf', 0), eff)}.",
    ]
    probes = results.get("probes") or []
    hits = [p for p in probes if p["effect"] == sqlshape.EFFECTIVE]
    if hits:
        lines.append(f"- Hand-written probes for these statements: {len(hits)} effective; Antibody "
                     f"blocked {sum(p['antibody'] for p in hits)}, the WAF "
                     f"{sum(p['waf'] for p in hits)} (it passed "
                     + ", ".join(f"`{p['payload']}`" for p in hits if not p["waf"])[:300]
                     + ").")
    lines += [
        f"- Harmless payloads (the string stayed a value): Antibody blocked "
        f"{t.get('none antibody', 0)} of {t.get('none', 0)}, the WAF {t.get('none waf', 0)}.",
    ]
    fp_total = Counter()
    for row in fps["counts"]:
        fp_total.update({k: row.get(k, 0) for k in ("sent", "antibody", "waf")})
    lines.append(f"- Benign inputs: {fp_total['sent']} requests; wrongly blocked: Antibody "
                 f"{fp_total['antibody']}, the WAF {_pct(fp_total['waf'], fp_total['sent'])}.")
    phase = results.get("sqlmap") or {}
    if "runs" in phase:
        each = len(phase["runs"]) // len(SYSTEM_LABELS)
        lines.append(f"- sqlmap ({sqlmap_plan(phase)}; {len(sqlmap.TARGETS)} targets): it found "
                     f"an injection point in {len(sqlmap_found_in(phase, 'off'))} of {each} runs "
                     f"with the agent off, {len(sqlmap_found_in(phase, 'protect'))} through "
                     f"Antibody, {len(sqlmap_found_in(phase, 'waf'))} through the WAF.")
    per_round = cost["protect"].get("round_ratio")
    cpu_off, cpu_protect = cost["off"].get("cpu_us"), cost["protect"].get("cpu_us")
    lines.append(
        f"- Cost on `{overhead_target()}`: protect mode serves "
        f"{cost['protect']['rps'] / cost['off']['rps']:.2f}x the requests/s of the agent off"
        + (f" ({per_round:.2f}x as the median of each round's ratio)" if per_round else "")
        + (f", using {cpu_protect / cpu_off:.2f}x the CPU time per request"
           if cpu_off and cpu_protect else "")
        + f"; the WAF {cost['waf']['rps'] / cost['off']['rps']:.2f}x the requests/s. "
        f"vulnshop's peak memory is {_mib(cost['off']['peak_rss_kib'])} with the agent off and "
        f"{_mib(cost['protect']['peak_rss_kib'])} in protect mode, "
        f"{_mib(cost['protect'].get('settled_rss_kib'))} once idle.")
    counted = cost.get("instructions", {})
    if "protect" in counted:
        lines.append(
            f"- Instructions per request, counted by callgrind (repeatable on a shared machine): "
            f"protect mode {counted['protect'] / counted['off']:.3f}x the agent off, monitor "
            f"{counted['monitor'] / counted['off']:.3f}x.")
    missed = results.get("missed_targets")
    if missed is not None:
        lines.append("- The gate's targets (above): " + (
            "all met." if not missed else "**missed**: " + "; ".join(missed) + "."))
    lines += [
        "",
        "## The systems",
        "",
        "Each runs on 127.0.0.1 from a copy of the release build of vulnshop, as `nobody` "
        "(`setpriv --reuid=nobody --regid=nogroup --clear-groups`) in its own process group, "
        "with a freshly seeded data folder:",
        "",
        "| system | how |",
        "|---|---|",
        "| ground truth | `ANTIBODY_MODE=off`: the flaws are real; `VULNSHOP_TRACE` records every "
        "statement SQLite ran |",
        f"| Antibody | `ANTIBODY_MODE=protect`, defaults otherwise, after {WARMUP_CALLS} honest "
        "calls to every SQL endpoint (the learning period is 100 calls) |",
        "| the WAF | nginx + ModSecurity v3 + OWASP CRS, paranoia level 1, blocking (anomaly "
        "threshold 5), a reverse proxy in front of off-mode vulnshop: "
        "`DIR=... APP_PORT=PORT NGINX_PORT=... APACHE_PORT=... WITH_BACKEND=0 "
        "waf-baseline.sh start` |",
        "",
        f"Every request carries a browser User-Agent (`{USER_AGENT}`) and `Host: localhost`, "
        "so that no rule about scanners or numeric hosts decides; a value is percent-encoded "
        "whole, so vulnshop decodes exactly the payload. Each request has a 10 s limit; a "
        "system that timed out or died is restarted, and so is one whose trace shows that a "
        "payload may have changed the data (a statement that is not a query, stacked or not).",
        "",
        "| | |",
        "|---|---|",
        f"| machine | {results.get('machine') or machine()} |",
    ]
    for name, value in v.items():
        lines.append(f"| {name} | {value} |")
    if phase.get("version"):
        lines.append(f"| sqlmap | {phase['version']} (PyPI) |")
    lines += [
        "",
        "## Attacks",
        "",
        f"The inputs: every line of `sqli/` in the corpora ({corpus['lines']} lines, "
        f"{corpus['distinct']} distinct after decoding; `libinjection-*` lines URL-decoded as "
        "libinjection's reader does, `patt-*` lines raw)"
        + (f", of which a fixed-seed sample of {corpus['sent']} is sent in a short run"
           if corpus["sent"] < corpus["distinct"] else "")
        + ". Each is sent as each parameter below to all three systems; the other login field "
        "is `password=x` or `username=alice`.",
        "",
        "**Judged by effect, with the agent off.** The statement vulnshop's trace says SQLite "
        "ran is split into tokens by the evaluation's own SQLite tokenizer "
        "(`eval/sqlshape.py`, which follows SQLite's `tokenize.c`: no dependency, and shared "
        "with nothing in the agent; a parser such as sqlglot would reject many of the broken "
        "statements that SQLite still runs or refuses, and comparing token structure needs no "
        "tree). Values (strings, numbers, a sign before a number) become one symbol; the result "
        "is compared with the endpoint's benign statement (for `ORDER BY`: a list of columns "
        "or column numbers, each with an optional `ASC`/`DESC`, `NULLS FIRST`/`LAST`). A "
        "payload is **effective** when SQLite ran a statement whose structure differs from the "
        "benign one by more than comments or a final `;`. Blocked by Antibody: a 403 whose "
        "`x-antibody-event` is a blocked `sql_injection` event in the events file. Blocked by "
        "the WAF: nginx's 403.",
        "",
    ]
    lines += attack_tables(attacks)
    lines += ["", *effective_examples(attacks)[:-1]]
    lines += ["", *event_lines("the attack phase", attacks["agent_events"], attacks["agent_errors"])]
    lines += [
        f"Restarts with fresh data because a payload may have changed it, or after a timeout: "
        f"{_restarts(attacks['reseeds'])}. "
        f"The attack phase took {attacks['seconds']} s for {attacks['jobs']} payload deliveries "
        "per system (the three systems run side by side).",
        "",
        "## What each system missed, and why",
        "",
        "Every missed payload is listed, with the parameter and the corpus line, in "
        "`target/evaluation/missed-antibody.tsv` and `target/evaluation/missed-waf.tsv`. "
        "\"Added\" is what the payload added to the benign statement, the most telling thing "
        "first (a stacked statement, UNION, a subquery, a function call, a boolean condition, a "
        "clause, a comment, ...).",
        "",
    ]
    lines += missed_section(attacks, "antibody", "Antibody")
    lines += missed_section(attacks, "waf", "The WAF")
    lines += failed_passed_lines(attacks)
    if attacks["agent_blocked_no_effect"]:
        lines.append(f"Antibody blocked {len(attacks['agent_blocked_no_effect'])} payloads "
                     "although they stayed a value, for example:")
        lines.append("")
        for row in attacks["agent_blocked_no_effect"][:10]:
            lines.append(f"- {row['param']}: {_cell(row['payload'])} ({row['source']})")
        lines.append("")
        if any(row["payload"].startswith('"') for row in attacks["agent_blocked_no_effect"]):
            lines += ["A double-quoted word is a name to SQLite, read as a string only when no "
                      "column has that name; Antibody reads it as the name it first is, a "
                      "structure the site never ran with a number there.", ""]
    if results.get("probes"):
        lines += probe_lines(results["probes"])
    lines += [
        "## Second-order injection",
        "",
        "`POST /reviews` stores a review with bound parameters (harmless); "
        "`GET /reviews/author-stats?review_id=N` then pastes the stored author into "
        "`SELECT COUNT(*) FROM reviews WHERE author = '...'`. No request input is in that "
        "statement, so correlation cannot explain it; after learning, its new structure is an "
        "anomaly: reported by default, blocked with `ANTIBODY_STRICT=true`. The payloads are a "
        f"fixed-seed sample of up to {plan['second_order']} of those effective on "
        "`/products?category=` (the same quoted context), each stored as an author and then "
        "used, on four fresh systems: off (for the effect), protect, strict protect, and the "
        "WAF.",
        "",
    ]
    lines += second_order_lines(results["second_order"])
    if phase:
        lines += ["## sqlmap", "", *sqlmap_lines(phase)]
    lines += [
        "## False positives",
        "",
        "Benign inputs sent where they stay plain: as `category` of the safe twin "
        "`/safe/products` (bound), of the vulnerable `/products` only when the value has no "
        "`'` (SQLite has no backslash escape, so such a value cannot leave the quoted "
        "literal), and as a review body through `POST /reviews` and `POST /safe/reviews` "
        "(bound). The Antibody system is the protect-mode one above, after the same learning "
        "period.",
        "",
        "| set | inputs | from |",
        "|---|--:|---|",
    ]
    origins = {
        "libinjection false positives": "`benign/libinjection-false-positives.txt`",
        "blns (benign sections)": "`benign/blns.txt` without its script, SQL, server-code, "
                                  "command, XXE, file-inclusion and known-CVE sections",
        "words with an apostrophe": "`/usr/share/dict/words` (wamerican) entries with `'`",
        "fortunes": "`/usr/share/games/fortunes/*` (fortunes-min), one entry each",
        "SQL and shell snippets": "`eval/corpora.py`: code as shoppers paste it into reviews",
    }
    for name, size in fps["sizes"].items():
        whole = fps["available"][name]
        count = str(size) if size == whole else f"{size} (a fixed-seed sample of {whole})"
        lines.append(f"| {name} | {count} | {origins.get(name, '')} |")
    lines += ["", *fp_lines(fps)]
    lines += event_lines("the false-positive phase", fps["agent_events"], fps["agent_errors"])
    lines += [
        "## Overhead",
        "",
        f"wrk against `{overhead_target()}` (one SQL statement per request), vulnshop (and, "
        "for the WAF, nginx) pinned to core 0, wrk to core 1; "
        f"{plan['runs']} runs of {plan['seconds']} s per setup, alternated (the order rotates "
        "each round), after a 1 s warm-up each, and the agent's learning period before that. "
        "Medians. The WAF's nginx opens a new connection to vulnshop per request "
        "(`waf-baseline.sh` sets no upstream keep-alive). Peak RSS is vulnshop's `VmHWM` "
        "after all runs.",
        "",
        "```sh",
        cost["command"],
        "```",
        "",
    ]
    lines += overhead_lines(cost)
    lines += instruction_lines(cost.get("instructions", {}))
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def instruction_lines(counted: dict) -> list[str]:
    """The callgrind counts: what the agent adds to a request, independent of the machine's
    other load."""
    out = ["### Instructions per request", ""]
    if "protect" not in counted:
        return out + [f"Not counted: {counted.get('skipped', 'no result')}.", ""]
    out += [
        f"Requests/s on a shared virtual machine move by several per cent from run to run, more "
        f"than the agent's cost. callgrind counts the user-space instructions vulnshop executes, "
        f"the same however busy the machine is: vulnshop runs under `valgrind --tool=callgrind` "
        f"with one runtime worker thread (`TOKIO_WORKER_THREADS=1`), is warmed up past the "
        f"learning period, then the counters are zeroed and {counted['requests']} requests to "
        f"`{overhead_target()}` with a browser's headers are counted (`callgrind_control -z`, "
        f"then `-d`).",
        "",
        "| setup | instructions per request | vs off |",
        "|---|--:|--:|",
    ]
    names = {"off": "agent off", "monitor": "monitor", "protect": "protect"}
    for name in ("off", "monitor", "protect"):
        out.append(f"| {names[name]} | {counted[name]:,.0f} | {counted[name] / counted['off']:.3f} |")
    out.append("")
    return out


def overhead_target() -> str:
    from .overhead import TARGET
    return TARGET
