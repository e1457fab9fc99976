"""Throughput, latency and memory of vulnshop on a database endpoint with the agent off,
monitoring, protecting, and off behind the WAF, measured with wrk."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .client import USER_AGENT
from .runner import warm_up
from .shop import Vulnshop, Waf, as_shop_user

SETUPS = ("off", "monitor", "protect", "waf")
TARGET = "/product?id=1"
CONNECTIONS = 8
SETTLE_SECONDS = 12
SHOP_CPU = 0
WRK_CPU = 1


def wrk_command(port: int, seconds: int) -> list[str]:
    return ["taskset", "-c", str(WRK_CPU), "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s",
            "--latency", "-H", "Host: localhost", "-H", f"User-Agent: {USER_AGENT}",
            f"http://127.0.0.1:{port}{TARGET}"]


def _steal_ticks() -> int:
    """Steal time of all processors so far (the 8th value of /proc/stat's cpu line)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) if len(fields) > 8 else 0


def _median_of(values) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(output: str) -> dict:
    """Requests per second, p50 and p99 latency (ms), and non-2xx answers."""
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", output).group(1))
    p50 = _duration_ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1))
    p99 = _duration_ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1))
    requests = re.search(r"(\d+) requests in", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": int(bad.group(1)) if bad else 0,
            "requests": int(requests.group(1)) if requests else 0,
            "socket_errors": errors.group(0) if errors else ""}


def _peak_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(binary: Path, work: Path, waf_script: Path, runs: int, seconds: int) -> dict:
    """Alternated wrk runs (the order rotates each round); medians per setup."""
    shops = {
        "off": Vulnshop(binary, work, "bench-off", {"ANTIBODY_MODE": "off"}, cpu=SHOP_CPU),
        "monitor": Vulnshop(binary, work, "bench-monitor", {"ANTIBODY_MODE": "monitor"},
                            cpu=SHOP_CPU),
        "protect": Vulnshop(binary, work, "bench-protect", {"ANTIBODY_MODE": "protect"},
                            cpu=SHOP_CPU),
        "waf": Vulnshop(binary, work, "bench-waf", {"ANTIBODY_MODE": "off"}, cpu=SHOP_CPU),
    }
    waf = None
    samples: dict[str, list[dict]] = {name: [] for name in SETUPS}
    ports = {}
    try:
        for name, shop in shops.items():
            shop.start()
            ports[name] = shop.port
            if name in ("monitor", "protect"):
                # The agent learns its call sites first, as it would in production.
                warm_up(shop.client)
            shop.client.close()
        waf = Waf(waf_script, work / "bench", shops["waf"].port, cpu=SHOP_CPU)
        waf.start()
        ports["waf"] = waf.port
        for name in SETUPS:
            subprocess.run(wrk_command(ports[name], 1), check=True, capture_output=True)
        load_before = os.getloadavg()
        steal_before = _steal_ticks()
        for round_number in range(runs):
            order = SETUPS[round_number % len(SETUPS):] + SETUPS[:round_number % len(SETUPS)]
            for name in order:
                cpu_before = shops[name].cpu_seconds()
                done = subprocess.run(wrk_command(ports[name], seconds), check=True,
                                      capture_output=True, text=True)
                cpu_after = shops[name].cpu_seconds()
                result = parse_wrk(done.stdout)
                result["round"] = round_number
                if cpu_before is not None and cpu_after is not None and result["requests"]:
                    result["cpu_us"] = (cpu_after - cpu_before) * 1e6 / result["requests"]
                samples[name].append(result)
                print(f"  overhead {name} run {round_number + 1}: {result['rps']:.0f} req/s",
                      file=sys.stderr, flush=True)
        load_after = os.getloadavg()
        steal = _steal_ticks() - steal_before
        peaks = {name: shop.peak_rss_kib() for name, shop in shops.items()}
        # The agent lets its symbol tables go after ten idle seconds: what it holds after.
        time.sleep(SETTLE_SECONDS)
        settled = {name: shop.rss_kib() for name, shop in shops.items()}
        nginx_peak = max((_peak_kib(pid) or 0 for pid in waf.nginx_pids()[1:]), default=0)
    finally:
        if waf is not None:
            waf.stop()
        for shop in shops.values():
            shop.stop()
    summary = {}
    for name in SETUPS:
        runs_of = samples[name]
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in runs_of),
            "p50": statistics.median(r["p50"] for r in runs_of),
            "p99": statistics.median(r["p99"] for r in runs_of),
            "non2xx": sum(r["non2xx"] for r in runs_of),
            "runs": [r["rps"] for r in runs_of],
            "peak_rss_kib": peaks[name],
            "settled_rss_kib": settled[name],
            "cpu_us": _median_of(r.get("cpu_us") for r in runs_of),
            # Each run against the off run of its own round: drift cancels out.
            "round_ratio": _median_of(
                r["rps"] / samples["off"][r["round"]]["rps"] for r in runs_of),
        }
    summary["nginx_worker_peak_rss_kib"] = nginx_peak
    # Others may share the machine: the load average says how quiet it was.
    summary["load"] = {"before": load_before[0], "after": load_after[0]}
    # Time the hypervisor gave the machine's processors to others, a share of all of it.
    elapsed_ticks = runs * len(SETUPS) * seconds * os.sysconf("SC_CLK_TCK") * os.cpu_count()
    summary["steal"] = steal / elapsed_ticks if elapsed_ticks else 0.0
    summary["command"] = " ".join(
        part if " " not in part else f"'{part}'" for part in wrk_command(0, seconds)
    ).replace("127.0.0.1:0", "127.0.0.1:PORT")
    return summary


INSTRUCTION_MODES = ("off", "monitor", "protect")


def _callgrind_total(path: Path) -> int:
    """The instructions counted in a callgrind dump (its `summary:` line)."""
    for line in path.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"{path} has no summary line")


def instructions(binary: Path, work: Path, requests: int) -> dict:
    """User-space instructions vulnshop executes per request on the DB endpoint, with the
    agent off, monitoring and protecting, counted by callgrind with one runtime worker
    thread: the count is the same on a busy machine as on a quiet one, where requests per
    second are not. Counting starts after the warm-up, so start-up is not included."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        return {"skipped": "valgrind is not installed"}
    counts = work / "callgrind"
    counts.mkdir(parents=True, exist_ok=True)
    # vulnshop may run as an unprivileged user, and writes its counts here.
    os.chmod(counts, 0o777)
    result: dict = {"requests": requests}
    for mode in INSTRUCTION_MODES:
        out = counts / f"{mode}.out"
        shop = Vulnshop(binary, work, f"callgrind-{mode}",
                        {"ANTIBODY_MODE": mode, "TOKIO_WORKER_THREADS": "1"},
                        wrapper=["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"],
                        timeout=60.0, start_timeout=180.0)
        shop.start()
        try:
            assert shop.client is not None and shop.process is not None
            warm_up(shop.client)
            pid = str(shop.process.pid)
            control = as_shop_user(["callgrind_control"])
            subprocess.run([*control, "-z", pid], check=True, capture_output=True, timeout=60)
            for _ in range(requests):
                answer = shop.client.get(TARGET)
                if answer.status != 200:
                    raise RuntimeError(f"{mode}: {TARGET} answered {answer.status} under callgrind")
            subprocess.run([*control, "-d", pid], check=True, capture_output=True, timeout=60)
            result[mode] = _callgrind_total(counts / f"{mode}.out.1") / requests
        finally:
            shop.stop()
        print(f"  instructions {mode}: {result[mode]:.0f} per request", file=sys.stderr,
              flush=True)
    return result
