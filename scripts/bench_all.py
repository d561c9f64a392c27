"""The issue-8 benchmark harness behind scripts/bench-all. Run it through scripts/bench-all, which provides nginx, wrk,
zstd, the .venv (py-rattler), the .venv-quetz (quetz-server) and the release binary.

Every figure of the issue's list is a ratio measured in this run against a reference on the same data:

  1. warm package downloads (wrk): Sluice (hosted feed and proxy feed) vs nginx serving the same files, a small (35 kB,
     a real conda-forge build) and a large (20 MiB by default, generated) package — target >= 0.9x;
  2. repodata.json and .zst of a real ~4,200-record subdir (the r_linux-64 fixture snapshot) and of a generated
     450,000-record one (bench_proxy.generate_repodata), as a proxy feed publishes them, vs nginx serving the very
     same bytes — target >= 0.9x;
  3. upstream refresh of the 450,000-record subdir: the output of scripts/bench_proxy.py (the proxy benchmark, run
     with this run's binary) — time and peak RSS;
  4. hosted-feed indexing vs rattler's index_fs: scripts/bench-index's output, if present;
  5. warm repodata.json and package throughput vs quetz-server 0.10.4 in proxy mode on the same upstream — >= 10x;
  6. py-rattler solve + install through a Sluice proxy feed (warm; sharded repodata when Sluice serves it) vs
     straight from nginx serving the same static channel (indexed by rattler with shards) — <= 1.1x the time;
  7. 200 concurrent cold requests for one package: requests that reach the upstream (quetz as the reference) — 1;
  8. a proxied 1 GiB package: Sluice's peak RSS growth during the cold download (and its time vs nginx) — <= 64 MiB.

Everything listens on 127.0.0.1. One nginx with an access log plays the upstream (it counts the requests that reach
it); a second nginx (access log off, sendfile) is the reference server. Every process the harness starts is stopped
on the way out, also on Ctrl-C, SIGTERM or --time-limit.
"""

from __future__ import annotations

import argparse
import asyncio
import bz2
import concurrent.futures
import hashlib
import io
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MIB = 1 << 20
GIB = 1 << 30
SMALL_PACKAGE = "xtensor-io-0.10.3-hb585cf6_0.tar.bz2"  # a real conda-forge linux-64 build, 35.2 kB


def say(text: str = "") -> None:
    print(text, flush=True)


# MARK: processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


class Processes:
    """Every process the harness starts, each in its own process group, so that stopping one stops its children."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen, int]] = []

    def start(self, name: str, argv: list[str], stop_signal: int = signal.SIGTERM, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        process = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.running.append((name, process, stop_signal))
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 20) -> None:
        for entry in list(self.running):
            if entry[1] is process:
                self.running.remove(entry)
                self._stop(*entry, timeout=timeout)

    @staticmethod
    def _stop(name: str, process: subprocess.Popen, stop_signal: int, timeout: float = 20) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, stop_signal)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                say(f"   {name} (pid {process.pid}) did not stop within {timeout:.0f}s; killing its process group")
        # The group may hold children that outlive the leader (uvicorn workers, nginx workers, a sub-benchmark).
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def stop_all(self) -> None:
        while self.running:
            self._stop(*self.running.pop())


PROCESSES = Processes()


class Sluice:
    """`sluice serve` (release) on 127.0.0.1 with a fresh data directory and an Admin password of our own."""

    def __init__(self, binary: Path, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(16)
        self.log_path = workdir / "sluice.log"
        self.log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        env["SLUICE_ADMIN_PASSWORD"] = self.password
        self.process = PROCESSES.start(
            "sluice",
            [str(binary), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(workdir / "sluice-data"), "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_for(f"{self.url}/health", process=self.process)
        self.pid = self.process.pid
        self.session = requests.Session()
        self.session.auth = ("Admin", self.password)

    def hosted_feed(self, feed: str) -> None:
        response = self.session.post(f"{self.url}/api/management/feeds/create", timeout=30,
                                     json={"name": feed, "feedType": "conda"})
        if response.status_code != 201:
            raise RuntimeError(f"create feed {feed}: {response.status_code} {response.text[:300]}")

    def upload(self, feed: str, path: Path) -> None:
        with open(path, "rb") as body:
            response = self.session.put(f"{self.url}/api/packages/{feed}/upload/{path.name}", data=body, timeout=600)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"upload {path.name}: {response.status_code} {response.text[:300]}")

    def proxy_feed(self, feed: str, upstream: str) -> None:
        connector = f"{feed}-up"
        response = self.session.post(f"{self.url}/api/management/connectors/create", timeout=30, json={
            "name": connector, "url": upstream, "feedType": "conda", "timeout": 600, "metadataCacheMinutes": 60})
        if response.status_code != 201:
            raise RuntimeError(f"create connector {connector}: {response.status_code} {response.text[:300]}")
        response = self.session.post(f"{self.url}/api/management/feeds/create", timeout=30,
                                     json={"name": feed, "feedType": "conda", "connectors": [connector]})
        if response.status_code != 201:
            raise RuntimeError(f"create feed {feed}: {response.status_code} {response.text[:300]}")

    def stop(self) -> None:
        PROCESSES.stop(self.process)
        self.log.close()


NGINX_COMMON = """
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    etag on;
    types {{ application/json json; application/octet-stream bz2 conda zst msgpack; }}
    default_type application/octet-stream;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
"""


class Nginx:
    """nginx with its own config and prefix under `workdir/name`, serving `root` on 127.0.0.1. With `access_log`,
    each request is logged as `METHOD URI STATUS BYTES` (to count what reaches an upstream)."""

    def __init__(self, name: str, root: Path, workdir: Path, access_log: bool):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        prefix = workdir / name
        (prefix / "logs").mkdir(parents=True)
        self.access_log = prefix / "logs" / "access.log"
        logging = (f"log_format bench '$request_method $uri $status $body_bytes_sent';\n"
                   f"    access_log {self.access_log} bench;") if access_log else "access_log off;"
        config = prefix / "nginx.conf"
        config.write_text(f"""
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    {logging}
{NGINX_COMMON.format(prefix=prefix)}
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
        location = /health {{ access_log off; return 200 "OK"; }}
    }}
}}
""")
        self.process = PROCESSES.start(name, ["nginx", "-p", str(prefix), "-c", str(config), "-g", "daemon off;"],
                                       stop_signal=signal.SIGQUIT, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.STDOUT)
        wait_for(f"{self.url}/health", process=self.process)

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []

    def stop(self) -> None:
        PROCESSES.stop(self.process)


QUETZ_CONFIG = """
[sqlalchemy]
database_url = "sqlite:///./quetz.sqlite"

[session]
secret = "{secret}"
https_only = false

[github]
client_id = ""
client_secret = ""

[users]
admins = ["dummy:alice", "dummy:bob", "dummy:carol", "dummy:dave"]
"""


class Quetz:
    """quetz-server (from .venv-quetz) in dev mode with SQLite, on 127.0.0.1. Dev mode creates a test API key for one
    of the dummy users; all of them are listed as admins, so that key may create proxy channels."""

    def __init__(self, venv: Path, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home = workdir / "quetz"
        home.mkdir()
        config = home / "config.toml"
        config.write_text(QUETZ_CONFIG.format(secret=secrets.token_hex(16)))
        quetz = str(venv / "bin" / "quetz")
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUETZ_")}
        created = subprocess.run([quetz, "create", str(home / "deploy"), "--copy-conf", str(config), "--dev"],
                                 cwd=home, capture_output=True, text=True, timeout=300, env=env)
        match = re.search(r'Test API key created for user "\w+": (\w+)', created.stdout + created.stderr)
        if created.returncode != 0 or not match:
            raise RuntimeError(f"quetz create failed ({created.returncode}): {(created.stdout + created.stderr)[-2000:]}")
        self.api_key = match.group(1)
        self.log = open(home / "quetz.log", "wb")
        self.process = PROCESSES.start(
            "quetz", [quetz, "start", str(home / "deploy"), "--host", "127.0.0.1", "--port", str(self.port),
                      "--log-level", "warning"],
            cwd=home, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_for(f"{self.url}/api/channels", timeout=120, process=self.process)
        self.pid = self.process.pid

    def proxy_channel(self, name: str, upstream: str) -> None:
        response = requests.post(f"{self.url}/api/channels", timeout=60, headers={"X-API-Key": self.api_key}, json={
            "name": name, "private": False, "mirror_channel_url": upstream, "mirror_mode": "proxy"})
        if response.status_code != 201:
            raise RuntimeError(f"quetz: create proxy channel: {response.status_code} {response.text[:300]}")

    def stop(self) -> None:
        PROCESSES.stop(self.process)
        self.log.close()


# MARK: measuring


def wrk(url: str, threads: int, connections: int, duration: int) -> dict:
    """One wrk run (keep-alive, no Accept-Encoding, i.e. identity). Returns req/s, p99 in ms, errors."""
    output = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "60s",
                             "--latency", url],
                            capture_output=True, text=True, check=True, timeout=duration + 120).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)] if p99 else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {"rps": rps, "p99_ms": p99_ms, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": socket_errors.group(1).strip() if socket_errors else ""}


def proc_status(pid: int, key: str) -> int:
    """A `kB` field of /proc/<pid>/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak_rss(pid: int) -> bool:
    """Resets VmHWM to the current RSS (`echo 5 > /proc/<pid>/clear_refs`). Returns whether that worked."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class RSSSampler:
    """Samples VmRSS of a process every `interval` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, proc_status(self.pid, "VmRSS"))
            except (OSError, KeyError):
                return
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def sha256_md5(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(4 * MIB):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def record_for(path: Path, index: dict) -> dict:
    sha256, md5 = sha256_md5(path)
    return dict(index, sha256=sha256, md5=md5, size=path.stat().st_size)


def index_of(path: Path) -> dict:
    with tarfile.open(path, "r:bz2") as archive:
        return json.load(archive.extractfile("info/index.json"))


def make_large_package(directory: Path, size: int) -> Path:
    """A real, valid linux-64 `.tar.bz2` conda package of about `size` bytes: info/index.json, info/paths.json and
    one payload file of random bytes (bzip2 cannot shrink them, so the archive is about as large as the payload)."""
    index = {"name": "bench-large", "version": "1.0", "build": "0", "build_number": 0, "depends": [],
             "license": "MIT", "subdir": "linux-64", "arch": "x86_64", "platform": "linux",
             "timestamp": 1_700_000_000_000}
    payload = os.urandom(size)
    paths = {"paths": [{"_path": "share/bench-large/payload.bin", "path_type": "hardlink",
                        "sha256": hashlib.sha256(payload).hexdigest(), "size_in_bytes": len(payload)}],
             "paths_version": 1}
    members = {"info/index.json": json.dumps(index, indent=2).encode(), "info/paths.json": json.dumps(paths).encode(),
               "share/bench-large/payload.bin": payload}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    path = directory / "bench-large-1.0-0.tar.bz2"
    path.write_bytes(bz2.compress(raw.getvalue(), 1))
    return path


def write_big_file(path: Path, size: int) -> tuple[str, str]:
    """`size` bytes of a repeated 1 MiB random block, each copy numbered (cheap to make, not compressible). Returns
    sha256 and md5."""
    block = bytearray(os.urandom(MIB))
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "wb") as file:
        for serial in range(size // MIB):
            block[:8] = serial.to_bytes(8, "big")
            file.write(block)
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def write_zst(source: Path) -> Path:
    target = source.with_name(source.name + ".zst")
    subprocess.run(["zstd", "-q", "-f", "-T0", "-3", str(source), "-o", str(target)], check=True, timeout=900)
    return target


def make_readable(root: Path) -> None:
    """nginx's workers may run as another user: every directory 0755, every file 0644 (0755 if executable)."""
    os.chmod(root, 0o755)
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories:
            os.chmod(Path(directory) / name, 0o755)
        for name in files:
            path = Path(directory) / name
            os.chmod(path, 0o755 if os.access(path, os.X_OK) else 0o644)


def fetch(url: str, timeout: float = 900) -> tuple[int, bytes]:
    response = requests.get(url, timeout=timeout, headers={"Accept-Encoding": "identity"})
    return response.status_code, response.content


def timed_download(url: str, timeout: float = 1800) -> tuple[int, float, str, int]:
    """Streams `url` in 1 MiB chunks; returns status, seconds to the last byte, sha256 and size."""
    begin = time.monotonic()
    with requests.get(url, stream=True, timeout=timeout, headers={"Accept-Encoding": "identity"}) as response:
        digest, size = hashlib.sha256(), 0
        for chunk in response.iter_content(MIB):
            digest.update(chunk)
            size += len(chunk)
        return response.status_code, time.monotonic() - begin, digest.hexdigest(), size


def concurrent_gets(url: str, count: int, expected_sha256: str, timeout: float = 300) -> tuple[float, dict]:
    """`count` GETs of `url` released at once, each on its own connection. Returns the total time and a count of
    outcomes ("200 ok", "200 with wrong bytes", "HTTP 500", "ReadTimeout", ...)."""
    barrier = threading.Barrier(count + 1)

    def one(_: int) -> tuple[int, str]:
        session = requests.Session()
        barrier.wait()
        try:
            reply = session.get(url, timeout=timeout)
            return reply.status_code, hashlib.sha256(reply.content).hexdigest()
        except requests.RequestException as error:
            return -1, type(error).__name__
        finally:
            session.close()

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(one, n) for n in range(count)]
        barrier.wait()
        begin = time.monotonic()
        results = [future.result() for future in futures]
        total = time.monotonic() - begin
    outcomes: dict[str, int] = {}
    for status, digest in results:
        if status == -1:
            key = digest  # the exception's name
        elif status == 200:
            key = "200 ok" if digest == expected_sha256 else "200 with wrong bytes"
        else:
            key = f"HTTP {status}"
        outcomes[key] = outcomes.get(key, 0) + 1
    return total, outcomes


# MARK: py-rattler

# Specs from the conda-test-recipes packages that solve together (12 packages; no link scripts, which would time the
# client's script runner rather than the servers).
RATTLER_SPECS = ("another_dependent,other_dependent,small-executable,activate_deactivate_package,buildstring,clobber-a,"
                 "private-package,run_constrained,track_feature")

RATTLER_SCRIPT = r'''
import asyncio, json, os, sys, time
from pathlib import Path
from rattler import Channel, Client, Gateway, SourceConfig, Subdir, install, solve

channel, spec, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
cache, prefix = workdir / "cache", workdir / "prefix"

async def run():
    client = Client.default_client()
    gateway = Gateway(cache_dir=cache, client=client,
                      default_config=SourceConfig(sharded_enabled=True, zstd_enabled=True, bz2_enabled=True))
    begin = time.monotonic()
    records = await solve([Channel(channel)], spec.split(","), gateway=gateway,
                          platforms=[Subdir("linux-64"), Subdir("noarch")], virtual_packages=[])
    solved = time.monotonic()
    await install(records, target_prefix=prefix, cache_dir=cache / "pkgs", client=client, show_progress=False)
    done = time.monotonic()
    # py-rattler keeps every shard it fetched in <cache>/shards-v1: proof that it used sharded repodata.
    shards = len(list((cache / "shards-v1").glob("*"))) if (cache / "shards-v1").is_dir() else 0
    return {"solve": solved - begin, "install": done - solved, "total": done - begin, "shards": shards,
            "records": sorted(f"{r.name.normalized}-{r.version}-{r.build}" for r in records)}

result = asyncio.run(run())
print(json.dumps(result))
sys.stdout.flush()
os._exit(0)  # py-rattler 0.28 may crash while Python shuts down (see ../shared/clients.md)
'''


def rattler_install(script: Path, channel: str, spec: str, workdir: Path) -> dict:
    """Solves and installs `spec` from `channel` in a new Python process with a new cache and prefix."""
    workdir.mkdir(parents=True)
    completed = subprocess.run([sys.executable, str(script), channel, spec, str(workdir)], capture_output=True,
                               text=True, timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(f"py-rattler failed ({completed.returncode}): {completed.stderr[-2000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    installed = sorted(path.name for path in (workdir / "prefix" / "conda-meta").glob("*.json"))
    if len(installed) != len(result["records"]):
        raise RuntimeError(f"py-rattler solved {result['records']} but conda-meta holds {installed}")
    shutil.rmtree(workdir, ignore_errors=True)
    return result


# MARK: results


@dataclass
class Row:
    item: str
    figure: str
    sluice: str
    reference: str
    ratio: float | None  # Sluice / reference, in the direction of `target`
    target: str
    met: bool | None
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra_sections: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        verdict = "n/a" if row.met is None else ("met" if row.met else "MISSED")
        ratio = "" if row.ratio is None else f" ratio {row.ratio:.2f}"
        say(f"   => [{row.item}] {row.figure}: sluice {row.sluice}, reference {row.reference};{ratio} "
            f"(target {row.target}: {verdict}) {row.note}")

    def markdown(self, header: str) -> str:
        lines = [textwrap.fill(header, 118, break_on_hyphens=False), "",
                 "| # | figure | Sluice | reference | ratio | target | met |",
                 "|---|---|---:|---:|---:|---|---|"]
        for row in sorted(self.rows, key=lambda row: row.item):
            ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
            met = "—" if row.met is None else ("yes" if row.met else "**no**")
            figure = row.figure + (f" ({row.note})" if row.note else "")
            lines.append(f"| {row.item} | {figure} | {row.sluice} | {row.reference} | {ratio} | {row.target} | {met} |")
        if self.notes:
            lines += [""] + [textwrap.fill(note, 118, initial_indent="- ", subsequent_indent="  ",
                                           break_on_hyphens=False) for note in self.notes]
        for section in self.extra_sections:
            lines += ["", section]
        return "\n".join(lines) + "\n"


def rate(result: dict) -> str:
    errors = ""
    if result["non2xx"]:
        errors += f", {result['non2xx']} non-2xx"
    if result["socket_errors"]:
        errors += f", socket errors {result['socket_errors']}"
    return f"{result['rps']:,.0f} req/s (p99 {result['p99_ms']:.1f} ms{errors})"


def size_label(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def compare_wrk(results: Results, item: str, figure: str, mine_url: str, reference_url: str, reference_name: str,
                minimum: float, args: argparse.Namespace, connections: int | None = None,
                upstream: Nginx | None = None) -> None:
    """wrk on both URLs, the reference first, and a row with the ratio of their rates. With `upstream`, also counts
    the requests for the same file that reached it during each run (a warm proxy should send none)."""
    connections = connections or args.connections
    upstream_hits = {"reference": 0, "sluice": 0}
    measured: dict[str, list[dict]] = {"reference": [], "sluice": []}
    # Rounds in ABBA order (reference, Sluice, Sluice, reference, ...); the best round of each side counts, which
    # keeps a burst of load from the other work on this machine from deciding the ratio.
    order = [name for round_ in range(args.rounds)
             for name in (("reference", "sluice") if round_ % 2 == 0 else ("sluice", "reference"))]
    for name in order:
        url = reference_url if name == "reference" else mine_url
        mark = len(upstream.log_lines()) if upstream else 0
        measured[name].append(wrk(url, args.threads, connections, args.duration))
        if upstream:
            filename = url.rsplit("/", 1)[1]
            upstream_hits[name] += sum(1 for line in upstream.log_lines()[mark:]
                                       if line.split(" ")[1].endswith("/" + filename))
    mine = max(measured["sluice"], key=lambda result: result["rps"])
    theirs = max(measured["reference"], key=lambda result: result["rps"])
    mine = dict(mine, non2xx=sum(result["non2xx"] for result in measured["sluice"]))
    theirs = dict(theirs, non2xx=sum(result["non2xx"] for result in measured["reference"]))
    if args.rounds > 1:
        say(f"   wrk rounds: sluice {[round(r['rps']) for r in measured['sluice']]}, "
            f"{reference_name} {[round(r['rps']) for r in measured['reference']]} req/s")
    valid = mine["non2xx"] == 0 and theirs["non2xx"] == 0
    ratio = mine["rps"] / theirs["rps"] if theirs["rps"] else None
    notes = []
    if connections != args.connections:
        notes.append(f"wrk -c{connections}")
    if not valid:
        notes.append("non-2xx answers; see the log")
    if theirs["rps"] == 0:
        notes.append(f"{reference_name} completed no request in {args.duration} s")
    if upstream:
        notes.append(f"upstream requests during the runs: Sluice {upstream_hits['sluice']}, "
                     f"{reference_name} {upstream_hits['reference']}")
    met = (ratio >= minimum if ratio is not None else mine["rps"] > 0) if valid else False
    results.add(Row(item, figure, rate(mine), f"{reference_name} {rate(theirs)}", ratio, f"≥ {minimum:g}×", met,
                    "; ".join(notes)))


# MARK: the other engineers' benchmarks (items 3 and 4)


def run_sub_benchmark(results: Results, item: str, figure: str, script: Path, command: list[str], time_limit: int,
                      log_dir: Path) -> str | None:
    """Runs `command` (the benchmark of scripts/bench-proxy or scripts/bench-index) when `script` exists; returns its
    output (also kept in log_dir)."""
    if not script.exists():
        results.add(Row(item, figure, "—", "—", None, "—", None, f"skipped: scripts/{script.name} is absent"))
        return None
    say(f"{item}. running {shlex.join(command)} (limit {time_limit}s)")
    log_path = log_dir / f"sluice-bench-all-{script.name}.log"
    begin = time.monotonic()
    with open(log_path, "wb") as log:
        process = PROCESSES.start(script.name, command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            process.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            say(f"   {script.name} ran longer than {time_limit}s; stopping it")
        finally:
            PROCESSES.stop(process, timeout=60)
    output = log_path.read_text(errors="replace")
    say(f"   {script.name} exited with {process.returncode} after {time.monotonic() - begin:.0f}s; "
        f"its output: {log_path}")
    for line in output.splitlines()[-40:]:
        say(f"   | {line}")
    if process.returncode != 0:
        results.add(Row(item, figure, "—", "—", None, "—", None,
                        f"`{script.name}` failed (exit {process.returncode}); its output: {log_path}"))
        return output
    return output


def last_table(output: str) -> list[str]:
    """The last markdown table in a benchmark's output."""
    lines = output.splitlines()
    end = max((i for i, line in enumerate(lines) if line.startswith("|")), default=None)
    if end is None:
        return []
    start = end
    while start > 0 and lines[start - 1].startswith("|"):
        start -= 1
    return lines[start:end + 1]


def seconds_in(text: str) -> float | None:
    match = re.search(r"([\d,.]+)\s*(ms|s)\b", text)
    if not match:
        return None
    value = float(match.group(1).replace(",", ""))
    return value / 1000 if match.group(2) == "ms" else value


def mib_in(text: str) -> float | None:
    match = re.search(r"([\d,.]+)\s*(MiB|GiB)", text)
    if not match:
        return None
    value = float(match.group(1).replace(",", ""))
    return value * 1024 if match.group(2) == "GiB" else value


def item3(results: Results, args: argparse.Namespace, log_dir: Path) -> None:
    # scripts/bench_proxy.py itself, with this run's binary: its wrapper only installs what scripts/bench-all has
    # installed already and might pick another binary.
    script = ROOT / "scripts" / "bench_proxy.py"
    output = run_sub_benchmark(results, "3", "upstream refresh of a 450,000-record subdir", script, [sys.executable, str(script), "--binary", str(args.binary),
                                                      *shlex.split(args.proxy_bench_args)],
                               args.sub_time_limit, log_dir)
    if output is None:
        return
    table = last_table(output)
    refresh = next((line for line in table if "refresh of" in line), None)
    peak = next((line for line in table if "peak RSS" in line), None)
    if refresh:
        cells = [cell.strip() for cell in refresh.strip("|").split("|")]
        seconds = seconds_in(cells[-1])
        records = re.search(r"([\d,]+)-record", cells[0])
        label = f"refresh of a {records.group(1)}-record subdir" if records else "refresh"
        results.add(Row("3", f"{label}, first GET → 200 (`scripts/bench_proxy.py`)", cells[-1].replace("*", ""),
                        "target 5 s", None if seconds is None else seconds / 5, "≤ 5 s",
                        None if seconds is None else seconds <= 5))
    if peak:
        cells = [cell.strip() for cell in peak.strip("|").split("|")]
        peak_mib = mib_in(cells[-1])
        results.add(Row("3", "… Sluice peak RSS (VmHWM) during it / once published", cells[-1].replace("*", ""),
                        "target 1.5 GiB", None if peak_mib is None else peak_mib / 1536, "≤ 1.5 GiB",
                        None if peak_mib is None else peak_mib <= 1536))
    if table:
        results.extra_sections.append("Output of `scripts/bench_proxy.py " + args.proxy_bench_args + "` (item 3):\n\n"
                                      + "\n".join(table))
    elif refresh is None:
        results.notes.append("item 3: `scripts/bench_proxy.py` printed no table; see its log")


def item4(results: Results, args: argparse.Namespace, log_dir: Path) -> None:
    # scripts/bench_index.py itself when present (with this run's binary), else the scripts/bench-index wrapper.
    python_script, wrapper = ROOT / "scripts" / "bench_index.py", ROOT / "scripts" / "bench-index"
    if python_script.exists():
        script, command = python_script, [sys.executable, str(python_script), "--binary", str(args.binary)]
    else:
        script, command = wrapper, [str(wrapper)]
    output = run_sub_benchmark(results, "4", "hosted-feed indexing vs rattler `index_fs`", script,
                               [*command, *shlex.split(args.index_bench_args)], args.sub_time_limit, log_dir)
    if output is None:
        return
    table = last_table(output)
    label = f"`scripts/{script.name} {args.index_bench_args}`".replace(" `", "`")
    if not table:
        tail = "\n".join(output.splitlines()[-15:])
        results.extra_sections.append(f"Last lines of {label} (item 4):\n\n```\n{tail}\n```")
        if not any(row.item == "4" for row in results.rows):  # a failure has its row already
            results.add(Row("4", "hosted-feed indexing vs rattler `index_fs`", "see its output below",
                            "rattler index_fs", None, "≤ 1× the time", None))
        return
    results.extra_sections.append(f"Output of {label} (item 4):\n\n" + "\n".join(table))
    # Rows: | what | rattler index_fs | Sluice | rattler / Sluice |
    header = [cell.strip().lower() for cell in table[0].strip("|").split("|")]
    rattler_column = next((i for i, cell in enumerate(header) if "rattler" in cell), None)
    sluice_column = next((i for i, cell in enumerate(header) if cell == "sluice"), None)
    for line in table[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if rattler_column is None or sluice_column is None or len(cells) <= max(rattler_column, sluice_column):
            continue
        theirs, mine = seconds_in(cells[rattler_column]), seconds_in(cells[sluice_column])
        ratio = mine / theirs if mine is not None and theirs else None
        results.add(Row("4", f"{cells[0]} (`{script.name}`)", cells[sluice_column],
                        f"rattler index_fs {cells[rattler_column]}", ratio, "≤ 1× the time",
                        None if ratio is None else ratio <= 1))


# MARK: main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=ROOT / ".build" / "release" / "sluice")
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("SLUICE_FIXTURES", ROOT.parent / "shared" / "fixtures")))
    parser.add_argument("--quetz-venv", type=Path, default=ROOT / ".venv-quetz")
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run: 20,000 generated records, 64 MiB big file, wrk -d2s, 2 rattler "
                             "runs, 50 concurrent requests, quick sub-benchmarks")
    parser.add_argument("--records", type=int, help="records of the generated subdir (default 450,000)")
    parser.add_argument("--large-mib", type=int, default=20, help="size of the large package of item 1 in MiB")
    parser.add_argument("--big-mib", type=int, help="size of the proxied big file of item 8 in MiB (default 1024)")
    parser.add_argument("--concurrency", type=int, help="concurrent cold requests of item 7 (default 200)")
    parser.add_argument("--rattler-runs", type=int, help="py-rattler runs per side in item 6 (default 21)")
    parser.add_argument("--rattler-specs", default=RATTLER_SPECS,
                        help="comma-separated specs py-rattler solves and installs in item 6")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--duration", type=int, help="seconds per wrk run (default 6)")
    parser.add_argument("--rounds", type=int, help="wrk runs per server and figure, the best counts (default 2)")
    parser.add_argument("--skip", default="", help="comma-separated items to leave out, e.g. 3,4,5")
    parser.add_argument("--proxy-bench-args", help="arguments for scripts/bench_proxy.py (item 3)")
    parser.add_argument("--index-bench-args", help="arguments for scripts/bench_index.py (item 4)")
    parser.add_argument("--sub-time-limit", type=int, default=1800, help="seconds each of items 3 and 4 may take")
    parser.add_argument("--markdown", type=Path, default=Path(tempfile.gettempdir()) / "sluice-bench-all.md",
                        help="where the markdown table is written")
    parser.add_argument("--time-limit", type=int, default=5400, help="seconds before the whole run gives up")
    args = parser.parse_args()
    quick = args.quick
    args.records = args.records or (20_000 if quick else 450_000)
    args.big_mib = args.big_mib or (64 if quick else 1024)
    args.concurrency = args.concurrency or (50 if quick else 200)
    args.rattler_runs = args.rattler_runs or (2 if quick else 21)
    args.duration = args.duration or (2 if quick else 6)
    args.rounds = args.rounds or (1 if quick else 2)
    if args.proxy_bench_args is None:
        args.proxy_bench_args = ("--records 20000 --duration 2 --skip wrk,concurrent,big,install" if quick
                                 else "--skip wrk,concurrent,big,install")
    if args.index_bench_args is None:
        args.index_bench_args = "--packages 500" if quick else ""
    skip = {item.strip() for item in args.skip.split(",") if item.strip()}

    def stop_running(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def out_of_time(signum, frame):
        raise TimeoutError(f"the harness ran longer than --time-limit {args.time_limit}s")

    signal.signal(signal.SIGTERM, stop_running)
    signal.signal(signal.SIGHUP, stop_running)
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.time_limit)

    results = Results()
    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-all-"))
    log_dir = Path(tempfile.gettempdir())
    started = time.monotonic()
    command = "./scripts/bench-all" + (" " + shlex.join(sys.argv[1:]).replace(f"--binary {args.binary}", "").strip()
                                       if len(sys.argv) > 1 else "")
    sluice = None
    failed = False
    try:
        binary_time = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(args.binary.stat().st_mtime))
        load = os.getloadavg()
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "?"
        if subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "Sources"],
                          capture_output=True, text=True).stdout.strip():
            commit += " + uncommitted changes"
        say(f"machine: {os.cpu_count()} cores, {platform.platform()}, load average {load[0]:.1f}")
        say(f"binary: {args.binary} (built {binary_time})")
        # Every item runs this copy, so a rebuild of .build/release during the run cannot mix two builds.
        copy = workdir / "sluice"
        shutil.copy2(args.binary, copy)
        args.binary = copy

        # Items 3 and 4 run first, on their own, before this harness's servers and data take memory.
        if "3" not in skip:
            item3(results, args, log_dir)
        if "4" not in skip:
            item4(results, args, log_dir)

        # The upstream: /up (real r_linux-64 records plus the package files), /gen (generated), /small (test recipes).
        upstream = workdir / "upstream"
        up = upstream / "up"
        for subdir in ("linux-64", "noarch"):
            (up / subdir).mkdir(parents=True)
        small_source = args.fixtures / "packages" / "quetz" / SMALL_PACKAGE
        small_path = up / "linux-64" / SMALL_PACKAGE
        shutil.copyfile(small_source, small_path)
        begin = time.monotonic()
        large_path = make_large_package(up / "linux-64", args.large_mib * MIB)
        say(f"generated {large_path.name}: {size_label(large_path.stat().st_size)} in {time.monotonic() - begin:.1f}s")
        extra = {SMALL_PACKAGE: record_for(small_path, index_of(small_path)),
                 large_path.name: record_for(large_path, index_of(large_path))}
        big_name = "big-1.0-0.tar.bz2"
        big_size = args.big_mib * MIB
        if "8" not in skip:
            begin = time.monotonic()
            big_sha256, big_md5 = write_big_file(up / "linux-64" / big_name, big_size)
            extra[big_name] = {"name": "big", "version": "1.0", "build": "0", "build_number": 0, "depends": [],
                               "license": "MIT", "subdir": "linux-64", "timestamp": 1_700_000_000_000,
                               "sha256": big_sha256, "md5": big_md5, "size": big_size}
            say(f"generated {big_name}: {big_size / MIB:,.0f} MiB in {time.monotonic() - begin:.1f}s")
        real = json.loads((args.fixtures / "repodata" / "r_linux-64.json").read_text())
        real = {key: value for key, value in real.items() if not key.startswith("_")}
        real_count = len(real["packages"]) + len(real.get("packages.conda", {}))
        for filename, record in extra.items():
            real["packages.conda" if filename.endswith(".conda") else "packages"][filename] = record
        up_count = len(real["packages"]) + len(real.get("packages.conda", {}))
        (up / "linux-64" / "repodata.json").write_text(json.dumps(real, indent=1, sort_keys=True))
        write_zst(up / "linux-64" / "repodata.json")
        (up / "noarch" / "repodata.json").write_text(json.dumps(
            {"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}, "repodata_version": 1}))
        say(f"upstream /up/linux-64: {real_count:,} real records of r_linux-64 + {len(extra)} package files = "
            f"{up_count:,} records")

        if "2" not in skip:
            try:
                from bench_proxy import generate_repodata  # the proxy benchmark's generator (scripts/bench_proxy.py)
            except ImportError as error:
                raise RuntimeError(f"scripts/bench_proxy.py has no generate_repodata any more: {error}") from error
            gen = upstream / "gen" / "linux-64"
            gen.mkdir(parents=True)
            begin = time.monotonic()
            repodata = generate_repodata(args.fixtures, args.records, {})
            gen_count = len(repodata["packages"]) + len(repodata["packages.conda"])
            (gen / "repodata.json").write_text(json.dumps(repodata, indent=1, sort_keys=True))
            del repodata
            write_zst(gen / "repodata.json")
            (gen.parent / "noarch").mkdir()
            (gen.parent / "noarch" / "repodata.json").write_text(json.dumps(
                {"info": {"subdir": "noarch"}, "packages": {}, "packages.conda": {}, "repodata_version": 1}))
            say(f"upstream /gen/linux-64: {gen_count:,} generated records, repodata.json "
                f"{(gen / 'repodata.json').stat().st_size / 1e6:.0f} MB, in {time.monotonic() - begin:.1f}s")

        if "6" not in skip:
            small = upstream / "small"
            for subdir in ("noarch", "linux-64"):
                (small / subdir).mkdir(parents=True)
            for package in sorted((args.fixtures / "packages" / "conda-test-recipes").glob("*.conda")):
                shutil.copyfile(package, small / "noarch" / package.name)
            from rattler.index import index_fs
            asyncio.run(index_fs(small, write_zst=True, write_shards=True))
            if not (small / "linux-64" / "repodata.json").exists():
                (small / "linux-64" / "repodata.json").write_text(json.dumps(
                    {"info": {"subdir": "linux-64"}, "packages": {}, "packages.conda": {}, "repodata_version": 1}))
            say(f"upstream /small: the 32 conda-test-recipes packages, indexed by rattler's index_fs with shards "
                f"({'shards present' if (small / 'noarch' / 'repodata_shards.msgpack.zst').exists() else 'NO shards'})")

        reference_root = workdir / "reference"
        reference_root.mkdir()
        make_readable(workdir)
        upstream_nginx = Nginx("upstream-nginx", upstream, workdir, access_log=True)
        say(f"upstream nginx: {upstream_nginx.url}")

        sluice = Sluice(args.binary, workdir)
        say(f"sluice: {sluice.url} (pid {sluice.pid})")
        sluice.proxy_feed("up", f"{upstream_nginx.url}/up")
        up_feed = f"{sluice.url}/conda/up/linux-64"
        status, _ = fetch(f"{up_feed}/repodata.json")
        if status != 200:
            raise RuntimeError(f"sluice proxy feed up: repodata.json answered {status}")

        quetz = None
        if "5" not in skip or "7" not in skip:
            if not (args.quetz_venv / "bin" / "quetz").exists():
                results.notes.append(f"quetz is not installed in {args.quetz_venv}: item 5 and the quetz reference "
                                     f"of item 7 were skipped (scripts/bench-all installs it)")
            else:
                quetz = Quetz(args.quetz_venv, workdir)
                quetz.proxy_channel("up-proxy", f"{upstream_nginx.url}/up")
                say(f"quetz: {quetz.url} (pid {quetz.pid}), proxy channel up-proxy → {upstream_nginx.url}/up")
        quetz_up = f"{quetz.url}/get/up-proxy/linux-64" if quetz else None

        # 7. Concurrent cold requests for one package (first, while nothing is cached).
        if "7" not in skip:
            expected = hashlib.sha256(small_source.read_bytes()).hexdigest()
            counts = {}
            for name, url in (("sluice", f"{up_feed}/{SMALL_PACKAGE}"),
                              ("quetz", f"{quetz_up}/{SMALL_PACKAGE}" if quetz else None)):
                if url is None:
                    continue
                mark = len(upstream_nginx.log_lines())
                total, outcomes = concurrent_gets(url, args.concurrency, expected, timeout=300)
                hits = [line for line in upstream_nginx.log_lines()[mark:] if line.split(" ")[1].endswith(SMALL_PACKAGE)]
                counts[name] = (len(hits), total, outcomes)
                say(f"7. {args.concurrency} concurrent cold GETs of {SMALL_PACKAGE} via {name}: {total:.2f}s, "
                    f"answers {outcomes}, upstream requests {len(hits)}")
            hits, total, outcomes = counts["sluice"]
            all_ok = outcomes.get("200 ok", 0) == args.concurrency
            reference = (f"quetz: {counts['quetz'][0]} upstream request(s), {counts['quetz'][1]:.2f} s; answers: "
                         + ", ".join(f"{number} × {key}" for key, number in sorted(counts["quetz"][2].items(),
                                                                                    key=lambda item: -item[1]))
                         if "quetz" in counts else "—")
            results.add(Row("7", f"{args.concurrency} concurrent cold GETs of one package: requests that reached "
                                 f"the upstream", f"{hits} ({total:.2f} s, {outcomes.get('200 ok', 0)}/"
                                 f"{args.concurrency} right bytes)", reference, None, "exactly 1",
                            hits == 1 and all_ok))

        # 1. Warm package downloads: Sluice (hosted and proxy feed) vs nginx on the same files.
        if "1" not in skip:
            sluice.hosted_feed("hosted")
            for path in (small_path, large_path):
                sluice.upload("hosted", path)
            ref = reference_root / "files" / "linux-64"
            ref.mkdir(parents=True)
            for path in (small_path, large_path):
                shutil.copyfile(path, ref / path.name)
        reference_nginx = None

        def reference_server() -> Nginx:
            nonlocal reference_nginx
            if reference_nginx is None:
                make_readable(reference_root)
                reference_nginx = Nginx("reference-nginx", reference_root, workdir, access_log=False)
                say(f"reference nginx: {reference_nginx.url}")
            return reference_nginx

        if "1" not in skip:
            nginx = reference_server()
            for path in (small_path, large_path):
                expected = path.read_bytes()
                urls = {"hosted": f"{sluice.url}/conda/hosted/linux-64/{path.name}",
                        "proxy": f"{up_feed}/{path.name}", "nginx": f"{nginx.url}/files/linux-64/{path.name}"}
                for name, url in urls.items():
                    for _ in range(2):  # the first GET of a proxied file fetches it; the second is warm
                        status, body = fetch(url)
                    if status != 200 or body != expected:
                        raise RuntimeError(f"item 1: {name} {url} answered {status} with other bytes")
                for feed in ("hosted", "proxy"):
                    compare_wrk(results, "1", f"warm package download, {size_label(path.stat().st_size)}, "
                                              f"{feed} feed", urls[feed], urls["nginx"], "nginx", 0.9, args)

        # 2. repodata.json and .zst, real and generated subdir, vs nginx serving the same bytes.
        if "2" not in skip:
            sluice.proxy_feed("gen", f"{upstream_nginx.url}/gen")
            gen_feed = f"{sluice.url}/conda/gen/linux-64"
            reset = reset_peak_rss(sluice.pid)
            rss_start = proc_status(sluice.pid, "VmRSS")
            sampler = RSSSampler(sluice.pid, 0.05)
            begin = time.monotonic()
            with requests.get(f"{gen_feed}/repodata.json", timeout=1800, stream=True,
                              headers={"Accept-Encoding": "identity"}) as response:
                status, refresh_seconds = response.status_code, time.monotonic() - begin
            sampled = sampler.stop()
            peak = max(sampled, proc_status(sluice.pid, "VmHWM")) if reset else sampled
            say(f"2. sluice refreshed /gen/linux-64 ({gen_count:,} records) in {refresh_seconds:.1f}s "
                f"(first GET → {status}); RSS {rss_start / MIB:,.0f} MiB before, peak {peak / MIB:,.0f} MiB")
            # The same refresh as item 3 measures, seen from this harness: a cross-check of that figure.
            results.add(Row("3", f"… the same refresh in this harness ({gen_count:,} records, first GET → 200)",
                            f"{refresh_seconds:.2f} s; peak RSS {peak / MIB:,.0f} MiB "
                            f"({rss_start / MIB:,.0f} MiB before)", "target 5 s / 1.5 GiB", refresh_seconds / 5,
                            "≤ 5 s, ≤ 1.5 GiB", status == 200 and refresh_seconds <= 5 and peak <= 1.5 * GIB))
            nginx = reference_server()
            for label, feed_url, name, count in (("real", up_feed, "up", up_count),
                                                 ("generated", gen_feed, "gen", gen_count)):
                for variant in ("repodata.json", "repodata.json.zst"):
                    status, body = fetch(f"{feed_url}/{variant}")
                    if status != 200:
                        raise RuntimeError(f"item 2: sluice {feed_url}/{variant} answered {status}")
                    copy = reference_root / name / "linux-64"
                    copy.mkdir(parents=True, exist_ok=True)
                    (copy / variant).write_bytes(body)
                    make_readable(reference_root)
                    reference_url = f"{nginx.url}/{name}/linux-64/{variant}"
                    if fetch(reference_url)[1] != body:
                        raise RuntimeError(f"item 2: nginx serves other bytes for {reference_url}")
                    # Large bodies: fewer connections, so that wrk's buffers and loopback copy stay sane.
                    connections = min(args.connections, 4) if len(body) > 50e6 else args.connections
                    compare_wrk(results, "2", f"`{variant}`, {label} subdir ({count:,} records), "
                                              f"{size_label(len(body))}",
                                f"{feed_url}/{variant}", reference_url, "nginx", 0.9, args, connections)
                    del body

        # 5. Warm repodata.json and package throughput vs quetz in proxy mode on the same upstream.
        if "5" not in skip and quetz:
            # Warm both: quetz caches a proxied file on its first GET; repodata.json is refreshed after its TTL.
            for path in ("repodata.json", SMALL_PACKAGE, large_path.name):
                for url in (f"{quetz_up}/{path}", f"{up_feed}/{path}"):
                    for _ in range(2):
                        status, body = fetch(url)
                    if status != 200:
                        raise RuntimeError(f"item 5: {url} answered {status}")
            quetz_records = len(json.loads(fetch(f"{quetz_up}/repodata.json")[1]).get("packages", {}))
            for figure, path, size in (
                    (f"warm `repodata.json` ({up_count:,} records)", "repodata.json", None),
                    ("warm package download", SMALL_PACKAGE, small_path.stat().st_size),
                    ("warm package download", large_path.name, large_path.stat().st_size)):
                label = figure + (f", {size_label(size)}" if size else "")
                compare_wrk(results, "5", label, f"{up_feed}/{path}", f"{quetz_up}/{path}", "quetz", 10, args,
                            connections=min(args.connections, 4) if size and size > MIB else None,
                            upstream=upstream_nginx)
            results.notes.append(f"item 5: quetz 0.10.4 (uvicorn, one worker, SQLite, `quetz start`) proxies the same "
                                 f"upstream channel; its repodata.json lists {quetz_records:,} records. quetz refreshes "
                                 f"only `*.json` after its TTL, so the comparison uses plain repodata.json.")
        if quetz:
            quetz.stop()
            quetz = None

        # 6. py-rattler solve + install through Sluice (warm) vs straight from nginx, on the same static channel:
        # through the proxy feed of that channel (the figure of the issue) and from a hosted feed holding the same
        # package files (which shows what the proxy path adds).
        if "6" not in skip:
            sluice.proxy_feed("small", f"{upstream_nginx.url}/small")
            sluice.hosted_feed("recipes")
            for package in sorted((upstream / "small" / "noarch").glob("*.conda")):
                sluice.upload("recipes", package)
            script = workdir / "rattler_install.py"
            script.write_text(RATTLER_SCRIPT)
            channels = {"nginx": f"{upstream_nginx.url}/small/", "proxy": f"{sluice.url}/conda/small/",
                        "hosted": f"{sluice.url}/conda/recipes/"}
            spec = args.rattler_specs
            for name in ("proxy", "hosted"):  # warms Sluice
                rattler_install(script, channels[name], spec, workdir / "rattler" / f"prime-{name}")
            shard_status = requests.get(f"{sluice.url}/conda/small/noarch/repodata_shards.msgpack.zst",
                                        timeout=30).status_code
            names = list(channels)
            times: dict[str, list[float]] = {name: [] for name in names}
            phases: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
            shards: dict[str, set[int]] = {name: set() for name in names}
            solved: dict[str, set[tuple[str, ...]]] = {name: set() for name in names}
            for run in range(args.rattler_runs):
                for name in names[run % 3:] + names[:run % 3]:  # each side first, second and third in turn
                    result = rattler_install(script, channels[name], spec, workdir / "rattler" / f"{name}-{run}")
                    times[name].append(result["total"])
                    phases[name].append((result["solve"], result["install"]))
                    shards[name].add(result["shards"])
                    solved[name].add(tuple(result["records"]))
            same = len(set().union(*solved.values())) == 1
            say(f"6. py-rattler solve+install {spec}: "
                + "; ".join(f"{name} {[round(t * 1000) for t in times[name]]} ms, shards in the client cache "
                            f"{sorted(shards[name])}" for name in names)
                + f"; sluice's noarch shard index answered {shard_status}; solutions "
                  f"{'identical' if same else 'DIFFER'}: {solved}")

            def used(name: str) -> str:
                counts = shards[name]
                solve = statistics.median(phase[0] for phase in phases[name]) * 1000
                install = statistics.median(phase[1] for phase in phases[name]) * 1000
                how = f"{max(counts)} shards fetched" if min(counts) > 0 else "no shards: monolithic repodata"
                return f"median solve {solve:.0f} + install {install:.0f} ms; {how}"

            packages = len(next(iter(solved["proxy"])))
            theirs = statistics.median(times["nginx"])
            for name, label in (("proxy", "through a proxy feed of that channel"),
                                ("hosted", "from a hosted feed with the same package files")):
                mine = statistics.median(times[name])
                results.add(Row("6", f"py-rattler solve + install of {len(spec.split(','))} specs ({packages} "
                                     f"packages), {label}; median of {args.rattler_runs} runs, each a new process "
                                     f"with a new client cache",
                                f"{mine * 1000:.0f} ms ({used(name)})",
                                f"nginx {theirs * 1000:.0f} ms ({used('nginx')})", mine / theirs, "≤ 1.1× the time",
                                same and mine / theirs <= 1.1, "" if same else "the solutions differ"))

        # 8. A proxied 1 GiB package: peak RSS growth (and time vs nginx).
        if "8" not in skip:
            nginx_status, nginx_seconds, digest, size = timed_download(f"{upstream_nginx.url}/up/linux-64/{big_name}")
            if nginx_status != 200 or digest != big_sha256:
                raise RuntimeError("item 8: nginx served the big file wrong")
            mark = len(upstream_nginx.log_lines())
            reset = reset_peak_rss(sluice.pid)
            rss_start = proc_status(sluice.pid, "VmRSS")
            sampler = RSSSampler(sluice.pid)
            status, seconds, digest, size = timed_download(f"{up_feed}/{big_name}")
            sampled = sampler.stop()
            peak = max(sampled, proc_status(sluice.pid, "VmHWM")) if reset else sampled
            growth = peak - rss_start
            hits = [line for line in upstream_nginx.log_lines()[mark:] if big_name in line]
            ok = status == 200 and digest == big_sha256 and size == big_size
            say(f"8. {big_size / MIB:,.0f} MiB through sluice cold: {status} {'verified' if ok else 'WRONG BYTES'} in "
                f"{seconds:.2f}s (nginx direct {nginx_seconds:.2f}s); RSS {rss_start / MIB:,.0f} MiB at start, peak "
                f"growth {growth / MIB:,.1f} MiB ({'VmHWM reset before' if reset else 'sampled VmRSS only'}); "
                f"upstream requests {len(hits)}")
            results.add(Row("8", f"proxied {big_size / MIB:,.0f} MiB package, cold: Sluice peak RSS growth",
                            f"{growth / MIB:,.1f} MiB", "target 64 MiB", growth / (64 * MIB), "≤ 64 MiB",
                            ok and growth <= 64 * MIB, "" if ok else "WRONG BYTES"))
            results.add(Row("8", f"… its download time (cold, through Sluice) vs straight from nginx",
                            f"{seconds:.2f} s ({big_size / MIB / seconds:,.0f} MiB/s)",
                            f"nginx {nginx_seconds:.2f} s ({big_size / MIB / nginx_seconds:,.0f} MiB/s)",
                            seconds / nginx_seconds, "— (no target)", None))
    except BaseException as error:  # noqa: B902 — report, clean up, then fail
        failed = True
        say(f"FAILED: {type(error).__name__}: {error}")
        results.notes.append(f"the run stopped early: {type(error).__name__}: {error}")
        if not isinstance(error, Exception):
            raise
    finally:
        signal.alarm(0)
        PROCESSES.stop_all()
        if sluice:
            sluice.log.close()
            kept = log_dir / "sluice-bench-all-sluice.log"
            shutil.copyfile(sluice.log_path, kept)
            say(f"sluice's log: {kept} (exit status {sluice.process.returncode})")
        shutil.rmtree(workdir, ignore_errors=True)
        header = (f"Run on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `{command}` "
                  f"({time.monotonic() - started:.0f} s; {os.cpu_count()} cores; load average {load[0]:.1f} before, "
                  f"{os.getloadavg()[0]:.1f} after; release binary built {binary_time}, HEAD {commit} at run time). wrk "
                  f"-t{args.threads} -c{args.connections} -d{args.duration}s, best of {args.rounds} round(s) per "
                  f"server in ABBA order, identity encoding, keep-alive; all servers and clients share the same "
                  f"cores. Ratio: Sluice / reference for rates and times; measured / target where the reference is "
                  f"a target.") if "load" in locals() else "The run did not start."
        text = results.markdown(header)
        args.markdown.write_text(text)
        say()
        say(text)
        say(f"(written to {args.markdown})")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as interruption:  # Ctrl-C or SIGTERM: everything is stopped already
        print(f"interrupted ({interruption})", file=sys.stderr)
        sys.exit(130)
