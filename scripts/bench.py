"""The benchmark behind scripts/bench. Run it through scripts/bench, which builds the release binary first.

1. Starts `sluice serve` (release) with a temporary data directory and nginx with its own config and prefix in a
   temporary directory, both on 127.0.0.1.
2. Generates N synthetic linux-64 packages (default 10,000): real `.tar.bz2` files holding `info/index.json` and
   `info/paths.json`, whose records take their shapes (names, versions, depends, licenses, track_features, ...) from
   the real r_linux-64 snapshot in the fixtures. Uploads them through the API with a few concurrent clients.
3. Publish time: how long after the last upload answered the feed's repodata.json lists all N packages; then the
   latency of one more upload into the full feed (upload start until repodata.json lists it).
4. wrk requests/s for the feed's repodata.json and for one package file, from Sluice and from nginx serving a copy of
   the very same bytes.
"""

from __future__ import annotations

import argparse
import bz2
import concurrent.futures
import io
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def record_shapes(fixtures: Path) -> list[dict]:
    """Real linux-64 records (index.json fields only) from the r_linux-64 snapshot."""
    repodata = json.loads((fixtures / "repodata" / "r_linux-64.json").read_text())
    shapes = []
    for record in repodata["packages"].values():
        shape = {key: value for key, value in record.items() if key not in ("md5", "sha256", "size", "fn", "url")}
        shapes.append(shape)
    return shapes


def make_package(directory: Path, shape: dict, serial: int) -> Path:
    """A real, tiny .tar.bz2 conda package whose index.json has `shape`'s fields and a unique build string."""
    index = dict(shape)
    index["build"] = f"{shape['build']}_{serial}"
    index["subdir"] = "linux-64"
    index["timestamp"] = 1_700_000_000_000 + serial
    filename = f"{index['name']}-{index['version']}-{index['build']}.tar.bz2"
    members = {
        "info/index.json": json.dumps(index, indent=2, sort_keys=True).encode(),
        "info/paths.json": json.dumps({"paths": [], "paths_version": 1}).encode(),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    path = directory / filename
    path.write_bytes(bz2.compress(raw.getvalue(), 9))
    return path


class Sluice:
    def __init__(self, binary: Path, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(16)
        self.log = open(workdir / "sluice.log", "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        env["SLUICE_ADMIN_PASSWORD"] = self.password
        self.process = subprocess.Popen(
            [str(binary), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(workdir / "data"), "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
        wait_for(f"{self.url}/health")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Nginx:
    def __init__(self, root: Path, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        prefix = workdir / "nginx"
        (prefix / "logs").mkdir(parents=True)
        config = prefix / "nginx.conf"
        config.write_text(f"""
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types {{ application/json json; application/octet-stream bz2 conda zst; }}
    default_type application/octet-stream;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
        location = /health {{ return 200 "OK"; }}
    }}
}}
""")
        self.process = subprocess.Popen(
            ["nginx", "-p", str(prefix), "-c", str(config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        wait_for(f"{self.url}/health")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wrk(url: str, threads: int, connections: int, duration: int) -> dict:
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    transfer = re.search(r"Transfer/sec:\s+([\d.]+\S+)", output).group(1)
    p99 = re.search(r"99%\s+(\S+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "transfer": transfer, "p99": p99.group(1) if p99 else "?",
            "non2xx": int(errors.group(1)) if errors else 0}


def repodata_count(url: str) -> int:
    response = requests.get(url, timeout=60, headers={"Accept-Encoding": "identity"})
    if response.status_code != 200:
        return 0
    return len(response.json().get("packages", {}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=ROOT / ".build" / "release" / "sluice")
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("SLUICE_FIXTURES", ROOT.parent / "shared" / "fixtures")))
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--upload-concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    os.chmod(workdir, 0o755)  # nginx workers may run as another user
    sluice = nginx = None
    try:
        print(f"machine: {os.cpu_count()} cores, {platform.platform()}", flush=True)
        started = time.monotonic()
        shapes = record_shapes(args.fixtures)
        packages_dir = workdir / "packages"
        packages_dir.mkdir()
        paths = [make_package(packages_dir, shapes[i % len(shapes)], i) for i in range(args.packages)]
        print(f"generated {len(paths)} packages from {len(shapes)} record shapes in "
              f"{time.monotonic() - started:.1f}s ({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB)", flush=True)

        sluice = Sluice(args.binary, workdir)
        auth = ("Admin", sluice.password)
        feed = "bench"
        requests.post(f"{sluice.url}/api/management/feeds/create", json={"name": feed, "feedType": "conda"},
                      auth=auth, timeout=30).raise_for_status()
        repodata_url = f"{sluice.url}/conda/{feed}/linux-64/repodata.json"

        local = threading.local()

        retried = []

        def upload(path: Path) -> int:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.auth = auth
            for attempt in range(3):
                try:
                    with open(path, "rb") as body:
                        response = local.session.put(f"{sluice.url}/api/packages/{feed}/upload/{path.name}",
                                                     data=body, timeout=300)
                    break
                except requests.ConnectionError as error:
                    # Uploads are idempotent (the same bytes again answer 200), so a retry is safe; it is counted
                    # and reported, since a server should not drop a connection that has a request in flight.
                    retried.append(f"{path.name}: {error}")
                    if sluice.process.poll() is not None or attempt == 2:
                        raise
                    local.session = requests.Session()
                    local.session.auth = auth
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{path.name}: {response.status_code} {response.text[:200]}")
            return response.status_code

        upload_start = time.monotonic()
        done = 0
        with concurrent.futures.ThreadPoolExecutor(args.upload_concurrency) as pool:
            for _ in pool.map(upload, paths):
                done += 1
                if done % 1000 == 0:
                    elapsed = time.monotonic() - upload_start
                    print(f"  {done} uploaded after {elapsed:.0f}s", flush=True)
        upload_end = time.monotonic()
        count = repodata_count(repodata_url)
        while count < len(paths) and time.monotonic() - upload_end < 600:
            time.sleep(0.05)
            count = repodata_count(repodata_url)
        visible = time.monotonic()
        if count != len(paths):
            raise RuntimeError(f"repodata lists {count} of {len(paths)} packages")
        upload_seconds = upload_end - upload_start
        if retried:
            print(f"{len(retried)} uploads were retried after the server closed the connection, first: {retried[0]}",
                  flush=True)
        print(f"uploaded {len(paths)} packages in {upload_seconds:.1f}s "
              f"({len(paths) / upload_seconds:.0f}/s, {args.upload_concurrency} clients)", flush=True)
        print(f"publish: repodata.json listed all {len(paths)} packages {1000 * (visible - upload_end):.0f} ms "
              f"after the last upload answered", flush=True)

        latencies = []
        for attempt in range(3):
            extra = make_package(packages_dir, shapes[attempt + 1], args.packages + 1 + attempt)
            begin = time.monotonic()
            upload(extra)
            while extra.name not in requests.get(repodata_url, timeout=60).json().get("packages", {}):
                time.sleep(0.01)
            latencies.append(time.monotonic() - begin)
        print(f"one more upload into the {len(paths)}-package feed, until repodata.json lists it: "
              + ", ".join(f"{1000 * value:.0f} ms" for value in latencies), flush=True)

        # The same bytes for nginx: one package file (a real conda-forge build, uploaded into the same feed first)
        # and then the feed's repodata.json.
        package_name = "xtensor-io-0.10.3-hb585cf6_0.tar.bz2"
        package_source = args.fixtures / "packages" / "quetz" / package_name
        upload(package_source)
        repodata_bytes = requests.get(repodata_url, headers={"Accept-Encoding": "identity"}, timeout=60).content
        site = workdir / "site" / "conda" / feed / "linux-64"
        site.mkdir(parents=True)
        (site / "repodata.json").write_bytes(repodata_bytes)
        shutil.copyfile(package_source, site / package_name)
        for directory in [workdir / "site", workdir / "site" / "conda", workdir / "site" / "conda" / feed, site]:
            os.chmod(directory, 0o755)
        for file in site.iterdir():
            os.chmod(file, 0o644)
        nginx = Nginx(workdir / "site", workdir)
        for server in (sluice.url, nginx.url):
            fetched = requests.get(f"{server}/conda/{feed}/linux-64/repodata.json",
                                   headers={"Accept-Encoding": "identity"}, timeout=60).content
            assert fetched == repodata_bytes, f"{server} serves other repodata bytes"
            assert requests.get(f"{server}/conda/{feed}/linux-64/{package_name}").content == \
                package_source.read_bytes()

        rows = []
        for label, path, size in (
            (f"repodata.json ({len(paths)} packages)", "repodata.json", len(repodata_bytes)),
            ("package file", package_name, package_source.stat().st_size),
        ):
            results = {}
            for server_name, base in (("sluice", sluice.url), ("nginx", nginx.url)):
                results[server_name] = wrk(f"{base}/conda/{feed}/linux-64/{path}", args.threads, args.connections,
                                           args.duration)
                print(f"{label} from {server_name}: {results[server_name]}", flush=True)
            rows.append((f"{label}, {size / 1e6:.2f} MB" if size > 1e6 else f"{label}, {size / 1e3:.1f} kB",
                         results["sluice"], results["nginx"]))

        print()
        print(f"| file | sluice req/s | nginx req/s | sluice / nginx | sluice p99 | nginx p99 |")
        print(f"|---|---:|---:|---:|---:|---:|")
        for label, mine, theirs in rows:
            print(f"| {label} | {mine['rps']:.0f} | {theirs['rps']:.0f} | {mine['rps'] / theirs['rps']:.2f} | "
                  f"{mine['p99']} | {theirs['p99']} |")
        print(f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s, identity encoding, "
              f"keep-alive, both servers on 127.0.0.1 on the same {os.cpu_count()} cores as wrk")
        return 0
    finally:
        if nginx:
            nginx.stop()
        if sluice:
            sluice.stop()
            kept = Path(tempfile.gettempdir()) / "sluice-bench-last.log"
            shutil.copyfile(workdir / "sluice.log", kept)
            print(f"sluice's log: {kept} (exit status {sluice.process.returncode})", flush=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
