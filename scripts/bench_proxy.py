"""The proxy-feed benchmark behind scripts/bench-proxy. Run it through scripts/bench-proxy, which provides nginx, wrk,
the .venv and the release binary.

Everything listens on 127.0.0.1. nginx (its own config and prefix in a temporary directory, with an access log) plays
the upstream conda channel; `sluice serve` (release, fresh data directory) has proxy feeds with connectors to it.

1. Refresh of a big subdir: a generated upstream linux-64 of N records (default 450,000, the size of conda-forge's
   linux-64), shaped like the real records of the r_linux-64 snapshot in the fixtures, with unique filenames, served
   as repodata.json and repodata.json.zst. Measures the time from the first `GET /conda/<feed>/linux-64/repodata.json`
   until it answers 200 (cold fetch, parse, merge, publish), Sluice's peak RSS (VmHWM), and then wrk on the feed's
   repodata.json.zst next to nginx serving the very same bytes.
2. 200 concurrent cold requests for one uncached package (a real conda-forge build listed in the generated repodata
   with its true sha256, md5 and size): total time, and how many requests reached the upstream (nginx's access log).
3. A proxied 1 GiB file (`big-1.0-0.tar.bz2`, listed with its sha256 and size): cold and warm download time, and how
   much Sluice's RSS grows during each (VmHWM reset through /proc/<pid>/clear_refs before each download).
4. Cold and warm install through a proxy feed with py-rattler: an upstream channel of the conda-test-recipes
   packages indexed with rattler's `index_fs`; solve and install `another_dependent` into a new prefix with a new client
   cache, first with a new feed (nothing cached in Sluice), then again (Sluice's cache warm). py-rattler straight
   against nginx is the reference.

The whole run is bounded by --time-limit; every server is stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import hashlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import Sluice, free_port, wait_for, wrk  # noqa: E402  (the hosted-feed benchmark's helpers)

ROOT = Path(__file__).resolve().parents[1]
MIB = 1 << 20


def say(text: str = "") -> None:
    print(text, flush=True)


# MARK: processes


class UpstreamNginx:
    """nginx serving `root` on 127.0.0.1 with an access log of `request status bytes`, one line per request."""

    def __init__(self, root: Path, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        prefix = workdir / "nginx"
        (prefix / "logs").mkdir(parents=True)
        self.access_log = prefix / "logs" / "access.log"
        config = prefix / "nginx.conf"
        config.write_text(f"""
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format bench '$request_method $uri $status $body_bytes_sent';
    access_log {self.access_log} bench;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    etag on;
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
        location = /health {{ access_log off; return 200 "OK"; }}
    }}
}}
""")
        self.process = subprocess.Popen(
            ["nginx", "-p", str(prefix), "-c", str(config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        wait_for(f"{self.url}/health")

    def requests_for(self, path_suffix: str, method: str | None = None) -> list[str]:
        """The access-log lines whose URI ends with `path_suffix` (and whose method is `method`, if given)."""
        lines = []
        for line in self.access_log.read_text().splitlines():
            parts = line.split(" ")
            if len(parts) >= 2 and parts[1].endswith(path_suffix) and (method is None or parts[0] == method):
                lines.append(line)
        return lines

    def log_length(self) -> int:
        return len(self.access_log.read_text().splitlines())

    def log_since(self, start: int) -> list[str]:
        return self.access_log.read_text().splitlines()[start:]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def proc_status(pid: int, key: str) -> int:
    """A `kB` field of /proc/<pid>/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (/proc/<pid>/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss(pid: int) -> bool:
    """Resets VmHWM to the current RSS (Linux ≥ 4.0, `echo 5 > /proc/<pid>/clear_refs`). Returns whether it worked."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class RSSSampler:
    """Samples VmRSS of a process every `interval` seconds in a thread, to see its shape over time."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - self._start, proc_status(self.pid, "VmRSS")))
            except (OSError, KeyError):
                return
            self._stop.wait(self.interval)

    def stop(self) -> int:
        """Stops sampling; returns the highest RSS seen."""
        self._stop.set()
        self._thread.join()
        return max((rss for _, rss in self.samples), default=0)


def mib(value: float) -> str:
    return f"{value / MIB:,.0f} MiB"


# MARK: upstream content


def sha256_md5(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(4 * MIB):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def real_record(path: Path, index: dict) -> dict:
    sha256, md5 = sha256_md5(path)
    record = dict(index)
    record.update(sha256=sha256, md5=md5, size=path.stat().st_size)
    return record


def generate_repodata(fixtures: Path, count: int, extra: dict[str, dict]) -> dict:
    """`count` records in all: the `extra` real ones plus synthetic ones shaped like the r_linux-64 snapshot's records
    (names, versions, depends, licenses, track_features, sizes, ...), each with a unique build string and filename,
    random hashes and a plausible timestamp; about two thirds `.conda`, one third `.tar.bz2`, as on conda-forge."""
    source = json.loads((fixtures / "repodata" / "r_linux-64.json").read_text())
    shapes = [record for record in source["packages"].values()]
    rng = random.Random(450_000)
    packages: dict[str, dict] = {}
    conda: dict[str, dict] = {}
    for serial in range(count - len(extra)):
        shape = shapes[serial % len(shapes)]
        record = {key: value for key, value in shape.items() if key not in ("fn", "url")}
        record["build"] = f"{shape['build']}_{serial}"
        record["subdir"] = "linux-64"
        record["timestamp"] = 1_600_000_000_000 + serial * 997
        record["md5"] = rng.getrandbits(128).to_bytes(16, "big").hex()
        record["sha256"] = rng.getrandbits(256).to_bytes(32, "big").hex()
        record["size"] = shape.get("size", 100_000)
        stem = f"{record['name']}-{record['version']}-{record['build']}"
        if serial % 3 == 0:
            packages[f"{stem}.tar.bz2"] = record
        else:
            conda[f"{stem}.conda"] = record
    for filename, record in extra.items():
        (conda if filename.endswith(".conda") else packages)[filename] = record
    return {"info": {"subdir": "linux-64"}, "packages": packages, "packages.conda": conda, "removed": [],
            "repodata_version": 1}


def write_zst(source: Path) -> Path:
    target = source.with_name(source.name + ".zst")
    subprocess.run(["zstd", "-q", "-f", "-T0", "-3", str(source), "-o", str(target)], check=True, timeout=600)
    return target


def write_big_file(path: Path, size: int) -> tuple[str, str]:
    """A `size`-byte file of a repeated 1 MiB random block, each block made distinct by its serial number (cheap, not
    compressible by a dumb proxy). Returns sha256 and md5."""
    block = bytearray(os.urandom(MIB))
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "wb") as file:
        for serial in range(size // MIB):
            block[:8] = serial.to_bytes(8, "big")
            file.write(block)
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def make_readable(root: Path) -> None:
    """nginx's workers run as another user: every directory 0755, every file 0644."""
    os.chmod(root, 0o755)
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories:
            os.chmod(Path(directory) / name, 0o755)
        for name in files:
            os.chmod(Path(directory) / name, 0o644)


# MARK: Sluice API


class Admin:
    def __init__(self, sluice: Sluice):
        self.url = sluice.url
        self.session = requests.Session()
        self.session.auth = ("Admin", sluice.password)

    def proxy_feed(self, feed: str, connector: str, upstream: str) -> None:
        response = self.session.post(f"{self.url}/api/management/connectors/create", timeout=30, json={
            "name": connector, "url": upstream, "feedType": "conda", "timeout": 600, "metadataCacheMinutes": 60})
        if response.status_code == 404:
            raise RuntimeError("this sluice binary has no connector API; rebuild it (./scripts/bench-proxy --build)")
        if response.status_code != 201:
            raise RuntimeError(f"create connector: {response.status_code} {response.text[:300]}")
        response = self.session.post(f"{self.url}/api/management/feeds/create", timeout=30,
                                     json={"name": feed, "feedType": "conda", "connectors": [connector]})
        if response.status_code != 201:
            raise RuntimeError(f"create feed: {response.status_code} {response.text[:300]}")

    def connector_status(self, connector: str) -> dict:
        response = self.session.get(f"{self.url}/api/management/connectors/get/{connector}", timeout=30)
        response.raise_for_status()
        return response.json().get("status", {})


def timed_download(url: str, timeout: float) -> tuple[int, float, float, str, int]:
    """GETs `url` streaming in 1 MiB chunks. Returns status, seconds to the response head, seconds to the last byte,
    sha256 and size of the body."""
    begin = time.monotonic()
    with requests.get(url, stream=True, timeout=timeout, headers={"Accept-Encoding": "identity"}) as response:
        head = time.monotonic() - begin
        digest, size = hashlib.sha256(), 0
        for chunk in response.iter_content(MIB):
            digest.update(chunk)
            size += len(chunk)
        return response.status_code, head, time.monotonic() - begin, digest.hexdigest(), size


# MARK: py-rattler

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
    records = await solve([Channel(channel)], [spec], gateway=gateway,
                          platforms=[Subdir("linux-64"), Subdir("noarch")], virtual_packages=[])
    solved = time.monotonic()
    await install(records, target_prefix=prefix, cache_dir=cache / "pkgs", client=client, show_progress=False)
    done = time.monotonic()
    return {"solve": solved - begin, "install": done - solved, "total": done - begin,
            "records": sorted(f"{r.name.normalized}-{r.version}-{r.build}" for r in records)}

result = asyncio.run(run())
print(json.dumps(result))
sys.stdout.flush()
os._exit(0)  # py-rattler 0.28 may crash while Python shuts down (see clients.md)
'''


def rattler_install(script: Path, channel: str, spec: str, workdir: Path) -> dict:
    workdir.mkdir(parents=True)
    completed = subprocess.run([sys.executable, str(script), channel, spec, str(workdir)], capture_output=True,
                               text=True, timeout=300)
    if completed.returncode != 0:
        raise RuntimeError(f"py-rattler failed ({completed.returncode}): {completed.stderr[-2000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    installed = sorted(path.name for path in (workdir / "prefix" / "conda-meta").glob("*.json"))
    if len(installed) != len(result["records"]):
        raise RuntimeError(f"py-rattler solved {result['records']} but conda-meta holds {installed}")
    return result


# MARK: the benchmark


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=ROOT / ".build" / "release" / "sluice")
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("SLUICE_FIXTURES", ROOT.parent / "shared" / "fixtures")))
    parser.add_argument("--records", type=int, default=450_000, help="records in the generated upstream subdir")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrent cold requests for one package")
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big proxied file in MiB")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--skip", default="",
                        help="comma-separated steps to leave out: wrk,concurrent,big,install")
    parser.add_argument("--cache", type=Path, default=None,
                        help="keep the generated upstream repodata in this directory and reuse it in later runs")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the refresh with `perf record -g` into this file")
    parser.add_argument("--time-limit", type=int, default=1800, help="seconds before the run gives up")
    args = parser.parse_args()
    skip = {item.strip() for item in args.skip.split(",") if item.strip()}

    def out_of_time(signum, frame):
        raise TimeoutError(f"the benchmark ran longer than --time-limit {args.time_limit}s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.time_limit)

    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-proxy-"))
    sluice = nginx = None
    summary: list[tuple[str, str]] = []
    try:
        say(f"machine: {os.cpu_count()} cores, {platform.platform()}")
        say(f"binary: {args.binary} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(args.binary.stat().st_mtime))})")

        # The upstream: /big/linux-64 (generated, plus a real package and the big file), /small (test recipes).
        upstream = workdir / "upstream"
        big_subdir = upstream / "big" / "linux-64"
        big_subdir.mkdir(parents=True)
        package_name = "xtensor-io-0.10.3-hb585cf6_0.tar.bz2"  # a real conda-forge linux-64 build
        package_source = args.fixtures / "packages" / "quetz" / package_name
        shutil.copyfile(package_source, big_subdir / package_name)
        with tarfile.open(package_source, "r:bz2") as archive:
            index = json.load(archive.extractfile("info/index.json"))
        extra = {package_name: real_record(big_subdir / package_name, index)}
        big_name = "big-1.0-0.tar.bz2"
        big_size = args.big_mib * MIB
        if "big" not in skip:
            started = time.monotonic()
            big_sha256, big_md5 = write_big_file(big_subdir / big_name, big_size)
            extra[big_name] = {"name": "big", "version": "1.0", "build": "0", "build_number": 0, "depends": [],
                               "license": "MIT", "subdir": "linux-64", "timestamp": 1700000000000,
                               "sha256": big_sha256, "md5": big_md5, "size": big_size}
            say(f"generated {big_name}: {mib(big_size)} in {time.monotonic() - started:.1f}s")

        started = time.monotonic()
        repodata_path = big_subdir / "repodata.json"
        cached = (args.cache / f"linux-64-{args.records}-{args.big_mib if 'big' not in skip else 0}"
                  if args.cache else None)
        if cached and (cached / "repodata.json.zst").exists():
            shutil.copyfile(cached / "repodata.json", repodata_path)
            zst_path = repodata_path.with_name("repodata.json.zst")
            shutil.copyfile(cached / "repodata.json.zst", zst_path)
            record_count = int((cached / "count").read_text())
        else:
            repodata = generate_repodata(args.fixtures, args.records, extra)
            record_count = len(repodata["packages"]) + len(repodata["packages.conda"])
            repodata_path.write_text(json.dumps(repodata, indent=1, sort_keys=True))
            del repodata
            zst_path = write_zst(repodata_path)
            if cached:
                cached.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(repodata_path, cached / "repodata.json")
                shutil.copyfile(zst_path, cached / "repodata.json.zst")
                (cached / "count").write_text(str(record_count))
        say(f"generated upstream linux-64: {record_count:,} records, repodata.json {repodata_path.stat().st_size / 1e6:.0f} MB, "
            f".zst {zst_path.stat().st_size / 1e6:.1f} MB, in {time.monotonic() - started:.1f}s")

        small = upstream / "small"
        for subdir in ("noarch", "linux-64"):
            (small / subdir).mkdir(parents=True)
        for package in sorted((args.fixtures / "packages" / "conda-test-recipes").glob("*.conda")):
            shutil.copyfile(package, small / "noarch" / package.name)
        from rattler.index import index_fs
        asyncio.run(index_fs(small, write_zst=True, write_shards=False))
        if not (small / "linux-64" / "repodata.json").exists():
            (small / "linux-64" / "repodata.json").write_text(json.dumps(
                {"info": {"subdir": "linux-64"}, "packages": {}, "packages.conda": {}, "repodata_version": 1}))
        make_readable(workdir)
        nginx = UpstreamNginx(upstream, workdir)
        say(f"upstream nginx: {nginx.url}")

        sluice = Sluice(args.binary, workdir)
        pid = sluice.process.pid
        admin = Admin(sluice)
        say(f"sluice: {sluice.url} (pid {pid}), RSS at start {mib(proc_status(pid, 'VmRSS'))}")

        # 1. Refresh of the big subdir.
        admin.proxy_feed("proxy-big", "big-up", f"{nginx.url}/big")
        feed_url = f"{sluice.url}/conda/proxy-big/linux-64"
        rss_before = proc_status(pid, "VmRSS")
        sampler = RSSSampler(pid, 0.05)
        cpu_before = cpu_seconds(pid)
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(pid), "-o", str(args.profile)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        begin = time.monotonic()
        response = requests.get(f"{feed_url}/repodata.json", timeout=900, stream=True,
                                headers={"Accept-Encoding": "identity"})
        head_seconds = time.monotonic() - begin
        refresh_cpu = cpu_seconds(pid) - cpu_before
        if profiler:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=120)
            say(f"   perf profile of the refresh: {args.profile} (perf report -i {args.profile} --no-children)")
        body = response.content
        body_seconds = time.monotonic() - begin
        sampler.stop()
        peak = proc_status(pid, "VmHWM")
        rss_after = proc_status(pid, "VmRSS")
        if response.status_code != 200:
            raise RuntimeError(f"repodata.json answered {response.status_code}: {body[:300]!r}")
        served = json.loads(body)
        served_count = len(served.get("packages", {})) + len(served.get("packages.conda", {}))
        absolute_urls = sum(1 for section in ("packages", "packages.conda")
                            for record in served.get(section, {}).values() if "url" in record)
        base_url = served.get("info", {}).get("base_url")
        del served
        upstream_repodata = [line for line in nginx.log_since(0) if "/big/linux-64/repodata" in line]
        say(f"1. cold refresh: first GET repodata.json answered {response.status_code} after {head_seconds:.2f}s "
            f"(whole {len(body) / 1e6:.0f} MB body after {body_seconds:.2f}s); it lists {served_count:,} of "
            f"{record_count:,} records; records with a url: {absolute_urls}; info.base_url: {base_url!r}")
        say(f"   sluice used {refresh_cpu:.1f} CPU seconds (user + system) until that answer")
        say(f"   upstream requests for repodata: {upstream_repodata}")
        say(f"   sluice RSS {mib(rss_before)} before, {mib(rss_after)} after; peak (VmHWM) {mib(peak)}")
        summary += [(f"refresh of a {record_count:,}-record subdir (first GET → 200)", f"{head_seconds:.2f} s"),
                    ("… CPU time sluice used for it (user + system)", f"{refresh_cpu:.1f} s"),
                    ("sluice peak RSS (VmHWM) after it / RSS once published", f"{mib(peak)} / {mib(rss_after)}")]
        del body
        variants = {}
        for variant in ("repodata.json.zst", "repodata.json.bz2", "current_repodata.json", "current_repodata.json.zst",
                        "repodata_shards.msgpack.zst", "../channeldata.json"):
            url = (f"{sluice.url}/conda/proxy-big/{variant[3:]}" if variant.startswith("../")
                   else f"{feed_url}/{variant}")
            begin = time.monotonic()
            reply = requests.get(url, timeout=300, headers={"Accept-Encoding": "identity"})
            variants[variant] = (reply.status_code, len(reply.content), time.monotonic() - begin)
        say(f"   then (warm): " + ", ".join(f"{name} {status} {size / 1e6:.1f} MB in {seconds * 1000:.0f} ms"
                                           for name, (status, size, seconds) in variants.items()))

        # channeldata.json is built on its first request (above); its time counts towards "every variant".
        channeldata_seconds = variants["../channeldata.json"][2]
        summary.append(("… then the first `GET channeldata.json` (built on first request)",
                        f"{channeldata_seconds:.2f} s"))
        say(f"   sluice peak RSS (VmHWM) after the variants: {mib(proc_status(pid, 'VmHWM'))}")

        # The feed's repodata.json.zst from Sluice and the very same bytes from nginx.
        zst_bytes = requests.get(f"{feed_url}/repodata.json.zst", timeout=300).content
        copy_dir = upstream / "copy" / "linux-64"
        copy_dir.mkdir(parents=True)
        (copy_dir / "repodata.json.zst").write_bytes(zst_bytes)
        make_readable(upstream / "copy")
        assert requests.get(f"{nginx.url}/copy/linux-64/repodata.json.zst", timeout=300).content == zst_bytes
        rates = {}
        for server, url in () if "wrk" in skip else (("sluice", f"{feed_url}/repodata.json.zst"),
                                                     ("nginx", f"{nginx.url}/copy/linux-64/repodata.json.zst")):
            rates[server] = wrk(url, args.threads, args.connections, args.duration)
            say(f"   wrk -t{args.threads} -c{args.connections} -d{args.duration}s repodata.json.zst "
                f"({len(zst_bytes) / 1e6:.1f} MB) from {server}: {rates[server]}")
        if rates:
            summary.append((f"warm repodata.json.zst ({len(zst_bytes) / 1e6:.1f} MB) req/s, sluice / nginx",
                            f"{rates['sluice']['rps']:.0f} / {rates['nginx']['rps']:.0f}"))
        say(f"   sluice peak RSS (VmHWM) now {mib(proc_status(pid, 'VmHWM'))}, RSS {mib(proc_status(pid, 'VmRSS'))}")

        # 2. Concurrent cold requests for one package.
        if "concurrent" not in skip:
            expected = hashlib.sha256(package_source.read_bytes()).hexdigest()
            url = f"{feed_url}/{package_name}"

            def round_of(count: int) -> tuple[float, dict, list[float]]:
                barrier = threading.Barrier(count + 1)

                def one(_: int) -> tuple[int, str, float]:
                    session = requests.Session()
                    barrier.wait()
                    start = time.monotonic()
                    try:
                        reply = session.get(url, timeout=120)
                        return reply.status_code, hashlib.sha256(reply.content).hexdigest(), time.monotonic() - start
                    except requests.RequestException as error:
                        return -1, type(error).__name__, time.monotonic() - start

                with concurrent.futures.ThreadPoolExecutor(count) as pool:
                    futures = [pool.submit(one, n) for n in range(count)]
                    barrier.wait()
                    begin = time.monotonic()
                    results = [future.result() for future in futures]
                    total = time.monotonic() - begin
                outcomes: dict = {}
                for status, digest, _ in results:
                    key = f"{status} ok" if digest == expected else f"{status} {digest[:12]}"
                    outcomes[key] = outcomes.get(key, 0) + 1
                return total, outcomes, sorted(seconds for _, _, seconds in results)

            total, outcomes, latencies = round_of(args.concurrency)
            hits = nginx.requests_for(f"/big/linux-64/{package_name}")
            say(f"2. {args.concurrency} concurrent cold GETs of {package_name} "
                f"({package_source.stat().st_size / 1e3:.1f} kB): all answered after {total:.2f}s "
                f"(median {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms); "
                f"responses {outcomes}; upstream requests for it: {len(hits)} {hits}")
            warm_total, warm_outcomes, warm_latencies = round_of(args.concurrency)
            hits_after = nginx.requests_for(f"/big/linux-64/{package_name}")
            say(f"   the same {args.concurrency} again (cached): {warm_total:.2f}s, responses {warm_outcomes}; "
                f"upstream requests for it now: {len(hits_after)}")
            summary += [(f"{args.concurrency} concurrent cold GETs of one package: total time", f"{total:.2f} s"),
                        ("… requests that reached the upstream", str(len(hits))),
                        (f"… the same {args.concurrency} GETs again (cached)", f"{warm_total:.2f} s")]

        # 3. The big file, cold and warm.
        if "big" not in skip:
            url = f"{feed_url}/{big_name}"
            rows = []
            upstream_hits = 0  # only Sluice's requests, not the reference download straight from nginx
            for label, target in (("nginx direct", f"{nginx.url}/big/linux-64/{big_name}"),
                                  ("sluice cold", url), ("sluice warm", url)):
                mark = nginx.log_length()
                reset = reset_peak_rss(pid)
                rss_start = proc_status(pid, "VmRSS")
                sampler = RSSSampler(pid, 0.02)
                status, head, seconds, digest, size = timed_download(target, timeout=900)
                sampled = sampler.stop()
                hwm = proc_status(pid, "VmHWM")
                growth = (max(hwm, sampled) if reset else sampled) - rss_start
                ok = status == 200 and digest == big_sha256 and size == big_size
                hits = [line for line in nginx.log_since(mark) if big_name in line]
                if label.startswith("sluice"):
                    upstream_hits += len(hits)
                rows.append((label, seconds, growth))
                say(f"3. {label}: {status} {'verified' if ok else 'WRONG BYTES'} {size / MIB:,.0f} MiB in "
                    f"{seconds:.2f}s ({size / MIB / seconds:,.0f} MiB/s, head after {head * 1000:.0f} ms); sluice "
                    f"RSS {mib(rss_start)} at start, peak growth {mib(growth)} "
                    f"({'VmHWM reset before' if reset else 'sampled VmRSS only'}); requests for it that reached "
                    f"nginx: {hits}")
            say(f"   upstream requests for {big_name} caused by Sluice (cold + warm): {upstream_hits}")
            summary.append((f"1 GiB file: requests Sluice sent upstream (cold + warm)", str(upstream_hits)))
            for label, seconds, growth in rows:
                summary.append((f"{mib(big_size)} file, {label}: time / sluice RSS growth", f"{seconds:.2f} s / {mib(growth)}"))

        # 4. Install through a proxy feed, cold and warm, and straight from nginx for reference.
        if "install" not in skip:
            script = workdir / "rattler_install.py"
            script.write_text(RATTLER_SCRIPT)
            admin.proxy_feed("proxy-small", "small-up", f"{nginx.url}/small")
            runs = []
            for label, channel in (("nginx direct", f"{nginx.url}/small/"),
                                   ("sluice cold", f"{sluice.url}/conda/proxy-small/"),
                                   ("sluice warm", f"{sluice.url}/conda/proxy-small/")):
                mark = nginx.log_length()
                result = rattler_install(script, channel, "another_dependent",
                                         workdir / "rattler" / label.replace(" ", "-"))
                upstream_lines = [line for line in nginx.log_since(mark) if " /small/" in line]
                runs.append((label, result, len(upstream_lines)))
                say(f"4. py-rattler solve+install another_dependent via {label}: solve {result['solve'] * 1000:.0f} ms, "
                    f"install {result['install'] * 1000:.0f} ms, total {result['total'] * 1000:.0f} ms; {len(result['records'])} "
                    f"packages {result['records']}; requests that reached nginx /small: {len(upstream_lines)}")
            for label, result, upstream_count in runs:
                summary.append((f"py-rattler install another_dependent, {label} (solve + install)",
                                f"{result['solve'] * 1000:.0f} + {result['install'] * 1000:.0f} = "
                                f"{result['total'] * 1000:.0f} ms "
                                f"({upstream_count} upstream requests)"))

        say(f"connector big-up status: {json.dumps(admin.connector_status('big-up'))}")
        say(f"sluice peak RSS over the whole run (VmHWM since the last reset): {mib(proc_status(pid, 'VmHWM'))}")
        say()
        say("| what | result |")
        say("|---|---|")
        for what, result in summary:
            say(f"| {what} | {result} |")
        return 0
    finally:
        signal.alarm(0)
        if nginx:
            nginx.stop()
        if sluice:
            sluice.stop()
            kept = Path(tempfile.gettempdir()) / "sluice-bench-proxy-last.log"
            shutil.copyfile(workdir / "sluice.log", kept)
            say(f"sluice's log: {kept} (exit status {sluice.process.returncode})")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
