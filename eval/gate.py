"""The targets a run must meet, which make `scripts/evaluate` (and so `scripts/test`, which
runs its short version) fail: every effective attack blocked by Antibody, no benign input
blocked, sqlmap finding every target with the agent off and none through the agent, and
every payload class effective somewhere (none would mean the harness, not the agent, broke).
Throughput is measured, never asserted."""

from __future__ import annotations

from . import sqlshape
from .runner import PARAMS


def attack_misses(attacks: dict) -> list[str]:
    missed = []
    for param in PARAMS:
        counts = attacks["counts"].get(param, {})
        effective = counts.get("effective", 0)
        blocked = counts.get("effective antibody", 0)
        if not effective:
            missed.append(f"no corpus payload was effective on `{param}`: the harness is broken")
        elif blocked < effective:
            missed.append(f"Antibody let {effective - blocked} of {effective} effective corpus "
                          f"payloads through on `{param}` (see missed-antibody.tsv)")
    return missed


def probe_misses(probes: list[dict]) -> list[str]:
    effective = [probe for probe in probes if probe["effect"] == sqlshape.EFFECTIVE]
    if not effective:
        return ["no hand-written probe was effective: the harness is broken"]
    return [f"Antibody let the probe `{probe['payload']}` through on `{probe['param']}` "
            f"({probe['antibody_status']})" for probe in effective if not probe["antibody"]]


def second_order_misses(second: dict) -> list[str]:
    counts = second["counts"]
    effective = counts.get("effective", 0)
    if not effective:
        return ["no second-order payload was effective: the harness is broken"]
    missed = []
    noticed = counts.get("default reported", 0) + counts.get("default blocked", 0)
    if noticed < effective:
        missed.append(f"Antibody (default) reported only {noticed} of {effective} effective "
                      "second-order payloads")
    if counts.get("strict blocked", 0) < effective:
        missed.append(f"Antibody (strict) blocked only {counts.get('strict blocked', 0)} of "
                      f"{effective} effective second-order payloads")
    return missed


def false_positive_misses(false_positives: dict) -> list[str]:
    blocked = false_positives["examples"]["antibody"]
    if not blocked:
        return []
    first = blocked[0]
    return [f"Antibody blocked {len(blocked)} benign request(s), the first {first['set']} at "
            f"{first['target']}: `{first['payload']}` ({first['kind']})"]


def sqlmap_misses(phase: dict | None) -> list[str]:
    """Each sqlmap run's problems (`eval.sqlmap.problems`); the WAF's runs only have to have
    run. A phase skipped for want of sqlmap (never under CI) has none."""
    if not phase or "runs" not in phase:
        return []
    return [f"sqlmap, {run['system']}, {run['pass_name']}, {run['target']} ({run['param']}): "
            f"{problem}" for run in phase["runs"] for problem in run["problems"]]


def misses(results: dict) -> list[str]:
    """Every target the run missed; empty when it met them all."""
    return [
        *attack_misses(results["attacks"]),
        *probe_misses(results.get("probes") or []),
        *second_order_misses(results["second_order"]),
        *false_positive_misses(results["false_positives"]),
        *sqlmap_misses(results.get("sqlmap")),
    ]
