"""Starting and stopping the systems under evaluation: vulnshop in a given mode (as an
unprivileged user when run as root, in its own process group), and the signature WAF in
front of an off-mode vulnshop."""

from __future__ import annotations

import json
import os
import grp
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from .client import Client

def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unprivileged() -> tuple[int, int] | None:
    """The uid and gid vulnshop runs as: `nobody`/`nogroup` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        uid = pwd.getpwnam("nobody").pw_uid
        try:
            gid = grp.getgrnam("nogroup").gr_gid
        except KeyError:
            gid = pwd.getpwnam("nobody").pw_gid
    except KeyError:
        return None
    return uid, gid


def as_shop_user(command: list[str]) -> list[str]:
    """`command`, run as the user vulnshop runs as (a tool that attaches to vulnshop, such as
    callgrind_control, must be that user too)."""
    ids = _unprivileged()
    if ids is None:
        return command
    return ["setpriv", f"--reuid={ids[0]}", f"--regid={ids[1]}", "--clear-groups", *command]


def kill_group(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the process group (vulnshop then flushes its events), SIGKILL if it
    lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


class Vulnshop:
    """One vulnshop process, restartable with a fresh data folder.

    Every start is a *generation* with its own folder: data, events file, trace file and
    output, so a restart never mixes records."""

    def __init__(self, binary: Path, work: Path, name: str, env: dict[str, str],
                 cpu: int | None = None, port: int = 0, timeout: float = 10.0,
                 wrapper: list[str] | None = None, start_timeout: float = 30.0):
        self.binary = binary
        self.work = work
        self.name = name
        self.env = env
        self.cpu = cpu
        self.fixed_port = port
        self.timeout = timeout
        # A program vulnshop runs under (valgrind), and how long it may take to start there.
        self.wrapper = wrapper or []
        self.start_timeout = start_timeout
        self.generation = 0
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.dir: Path | None = None
        self.client: Client | None = None
        self._trace = None
        self.restarts = 0

    def start(self) -> None:
        self.generation += 1
        self.dir = self.work / f"{self.name}-{self.generation}"
        data = self.dir / "data"
        data.mkdir(parents=True)
        for file in ("events.jsonl", "trace.jsonl", "stdout", "stderr"):
            (self.dir / file).touch()
        ids = _unprivileged()
        command: list[str] = []
        if self.cpu is not None:
            command += ["taskset", "-c", str(self.cpu)]
        if ids is not None:
            os.chmod(self.dir, 0o755)
            for path in (data, self.dir / "events.jsonl", self.dir / "trace.jsonl"):
                os.chown(path, ids[0], ids[1])
        command += as_shop_user([])
        port = self.fixed_port
        command += self.wrapper
        command += [str(self.binary), "--addr", f"127.0.0.1:{port}", "--data-dir", str(data)]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANTIBODY_", "VULNSHOP_"))}
        env.update(self.env)
        env["ANTIBODY_EVENTS_FILE"] = str(self.dir / "events.jsonl")
        env["VULNSHOP_TRACE"] = str(self.dir / "trace.jsonl")
        with open(self.dir / "stdout", "wb") as out, open(self.dir / "stderr", "wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, env=env,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            text = (self.dir / "stdout").read_text(errors="replace")
            if text.startswith("listening on ") and "\n" in text:
                self.port = int(text.split("\n", 1)[0].rsplit(":", 1)[1])
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} did not start: "
                                   + (self.dir / "stderr").read_text(errors="replace")[-2000:])
            time.sleep(0.02)
        else:
            raise RuntimeError(f"{self.name} printed no address")
        self.fixed_port = self.port
        self.client = Client(self.port, self.timeout)
        while time.monotonic() < deadline:
            if self.client.get("/healthz").status == 200:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"{self.name} never answered /healthz")
        self._trace = open(self.dir / "trace.jsonl", "rb")

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.process is not None:
            kill_group(self.process)
            self.process = None
        if self._trace is not None:
            self._trace.close()
            self._trace = None

    def restart(self) -> None:
        """A fresh process on the same port with a freshly seeded data folder."""
        self.stop()
        self.restarts += 1
        self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def trace(self) -> list[dict]:
        """The trace lines written since the last call (vulnshop writes a statement's line
        before it answers)."""
        assert self._trace is not None
        lines = []
        for raw in self._trace.readlines():
            if raw.endswith(b"\n"):
                lines.append(json.loads(raw))
            else:
                # A partial line: read it again next time.
                self._trace.seek(-len(raw), os.SEEK_CUR)
        return lines

    def events(self) -> dict[str, dict]:
        """Every event of every generation, by id (call after `stop`)."""
        found: dict[str, dict] = {}
        for generation in range(1, self.generation + 1):
            path = self.work / f"{self.name}-{generation}" / "events.jsonl"
            if path.exists():
                for raw in path.read_bytes().splitlines():
                    try:
                        event = json.loads(raw)
                    except ValueError:
                        continue
                    found[event.get("id", "")] = event
        return found

    def peak_rss_kib(self) -> int | None:
        """VmHWM of the vulnshop process (the child of setpriv/taskset, which exec it)."""
        return self._status_kib("VmHWM:")

    def rss_kib(self) -> int | None:
        """VmRSS of the vulnshop process: what it holds now."""
        return self._status_kib("VmRSS:")

    def _status_kib(self, field: str) -> int | None:
        if self.process is None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith(field):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def cpu_seconds(self) -> float | None:
        """User and system CPU time the vulnshop process has used, in seconds."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime and stime are the 14th and 15th fields, counted from the pid.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Waf:
    """nginx + ModSecurity v3 + CRS (the shared baseline script) in front of `backend_port`."""

    def __init__(self, script: Path, work: Path, backend_port: int, cpu: int | None = None):
        self.script = script
        self.dir = work / "waf"
        self.backend_port = backend_port
        self.cpu = cpu
        self.port = 0
        self.apache_port = 0
        self.started = False

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DIR=str(self.dir), APP_PORT=str(self.backend_port),
                   NGINX_PORT=str(self.port), APACHE_PORT=str(self.apache_port),
                   WITH_BACKEND="0")
        return env

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.apache_port = free_port()
        subprocess.run(["bash", str(self.script), "start"], env=self._env(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.started = True
        if self.cpu is not None:
            for pid in self.nginx_pids():
                subprocess.run(["taskset", "-a", "-p", "-c", str(self.cpu), str(pid)],
                               check=False, stdout=subprocess.DEVNULL)
        client = Client(self.port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answer = client.get("/healthz")
            if answer.status == 200:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("the WAF never passed /healthz through")
        client.close()

    def nginx_pids(self) -> list[int]:
        """The nginx master and its workers."""
        try:
            master = int((self.dir / "run" / "nginx.pid").read_text().strip())
        except (OSError, ValueError):
            return []
        pids = [master]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == master:
                    pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        if self.started:
            pids = self.nginx_pids()
            subprocess.run(["bash", str(self.script), "stop"], env=self._env(), check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started = False
            # nginx quits gracefully; wait so that its port and files are free.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(
                    Path(f"/proc/{pid}").exists() for pid in pids):
                time.sleep(0.1)


def copy_binary(binary: Path, work: Path) -> Path:
    """A copy of vulnshop the unprivileged user can run (the build tree may not be
    reachable by it)."""
    target = work / "bin" / "vulnshop"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    os.chmod(target.parent, 0o755)
    os.chmod(target, 0o755)
    return target
