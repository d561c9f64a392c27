"""The indexing benchmark behind scripts/bench-index: Sluice's hosted-feed indexing against rattler's indexer
(py-rattler `index_fs`, written in Rust) on the same generated package set. Run it through scripts/bench-index, which
provides the .venv and the release binary.

The package set is N real, tiny linux-64 `.tar.bz2` packages generated as scripts/bench does (record shapes from the
r_linux-64 snapshot in the fixtures, each with a unique build string). Each comparison is measured in the same run:

1. Cold index of the whole set. rattler: `index_fs(force=True)` on a directory holding the N files, writing
   repodata.json, .zst and the shards. Sluice: the feed's rows are in its database (uploaded before); Sluice is
   restarted and the first `GET linux-64/repodata.json` is timed, which builds every variant (repodata.json, .zst,
   .bz2, current_repodata.json and its variants, the shard index and shards) from the database.
2. Bulk import: rattler indexing the N files cold (as 1.) against Sluice taking the N files as uploads
   (`PUT /api/packages/<feed>/upload/<file>`, 16 clients) until repodata.json lists them all.
3. One more package into the full channel: rattler `index_fs` without `force` after copying the file in (it reuses
   the existing repodata for the files it knows) against one upload into Sluice until repodata.json lists it.

Ratios are rattler time / Sluice time, so above 1 means Sluice is faster. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import make_package, record_shapes, wait_for, free_port  # noqa: E402  (the hosted-feed benchmark's helpers)

ROOT = Path(__file__).resolve().parents[1]

RATTLER_INDEX = r'''
import asyncio, json, sys, time
from pathlib import Path
from rattler import Subdir
from rattler.index import index_fs

channel, force = Path(sys.argv[1]), sys.argv[2] == "force"
begin = time.monotonic()
asyncio.run(index_fs(channel, target_platform=Subdir("linux-64"), write_zst=True, write_shards=True, force=force))
print(json.dumps({"seconds": time.monotonic() - begin}))
'''


def say(text: str = "") -> None:
    print(text, flush=True)


class Sluice:
    """`sluice serve` (release) on 127.0.0.1 with a data directory that survives restarts."""

    def __init__(self, binary: Path, workdir: Path, password: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = password or secrets.token_urlsafe(16)
        self.log = open(workdir / "sluice.log", "ab")
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
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rattler_index(script: Path, channel: Path, force: bool) -> float:
    completed = subprocess.run([sys.executable, str(script), str(channel), "force" if force else "reuse"],
                               capture_output=True, text=True, timeout=3600)
    if completed.returncode != 0:
        raise RuntimeError(f"rattler index_fs failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])["seconds"]


def listed(url: str) -> set[str]:
    response = requests.get(url, timeout=120, headers={"Accept-Encoding": "identity"})
    if response.status_code != 200:
        return set()
    document = response.json()
    return set(document.get("packages", {})) | set(document.get("packages.conda", {}))


def ratio(reference: float, ours: float) -> str:
    return f"{reference / ours:.2f}×" if ours > 0 else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=ROOT / ".build" / "release" / "sluice")
    parser.add_argument("--fixtures", type=Path,
                        default=Path(os.environ.get("SLUICE_FIXTURES", ROOT.parent / "shared" / "fixtures")))
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--upload-concurrency", type=int, default=16)
    parser.add_argument("--time-limit", type=int, default=3600, help="seconds before the run gives up")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record Sluice during the bulk import with `perf record -g` into this file")
    args = parser.parse_args()

    def out_of_time(signum, frame):
        raise TimeoutError(f"the benchmark ran longer than --time-limit {args.time_limit}s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.time_limit)

    workdir = Path(tempfile.mkdtemp(prefix="sluice-bench-index-"))
    sluice = None
    summary: list[tuple[str, str, str, str]] = []
    try:
        say(f"machine: {os.cpu_count()} cores, {platform.platform()}")
        say(f"binary: {args.binary} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(args.binary.stat().st_mtime))})")
        started = time.monotonic()
        shapes = record_shapes(args.fixtures)
        packages_dir = workdir / "packages"
        packages_dir.mkdir()
        paths = [make_package(packages_dir, shapes[i % len(shapes)], i) for i in range(args.packages)]
        extra = make_package(workdir, shapes[1], args.packages + 1)
        say(f"generated {len(paths):,} packages in {time.monotonic() - started:.1f}s "
            f"({sum(p.stat().st_size for p in paths) / 1e6:.1f} MB)")

        # rattler: a cold index of the directory, then one more file without force.
        script = workdir / "rattler_index.py"
        script.write_text(RATTLER_INDEX)
        channel = workdir / "channel"
        (channel / "noarch").mkdir(parents=True)
        shutil.copytree(packages_dir, channel / "linux-64")
        rattler_cold = rattler_index(script, channel, force=True)
        rattler_listed = json.loads((channel / "linux-64" / "repodata.json").read_text())
        if len(rattler_listed.get("packages", {})) != len(paths):
            raise RuntimeError(f"rattler indexed {len(rattler_listed.get('packages', {}))} of {len(paths)} packages")
        say(f"rattler index_fs (force), {len(paths):,} packages: {rattler_cold:.2f}s "
            f"(files: {sorted(p.name for p in (channel / 'linux-64').iterdir() if not p.name.endswith('.tar.bz2'))})")
        shutil.copyfile(extra, channel / "linux-64" / extra.name)
        rattler_one = rattler_index(script, channel, force=False)
        say(f"rattler index_fs (no force) after one more file: {rattler_one:.2f}s")

        # Sluice: bulk import by upload.
        sluice = Sluice(args.binary, workdir)
        auth = ("Admin", sluice.password)
        feed = "bench"
        requests.post(f"{sluice.url}/api/management/feeds/create", json={"name": feed, "feedType": "conda"},
                      auth=auth, timeout=30).raise_for_status()
        local = threading.local()

        def upload(path: Path, url: str) -> None:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.auth = auth
            with open(path, "rb") as body:
                response = local.session.put(f"{url}/api/packages/{feed}/upload/{path.name}", data=body, timeout=600)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"{path.name}: {response.status_code} {response.text[:200]}")

        repodata = f"{sluice.url}/conda/{feed}/linux-64/repodata.json"
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(sluice.process.pid), "-o",
                                         str(args.profile)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        cpu_before = cpu_seconds(sluice.process.pid)
        begin = time.monotonic()
        done = 0
        with concurrent.futures.ThreadPoolExecutor(args.upload_concurrency) as pool:
            for _ in pool.map(lambda path: upload(path, sluice.url), paths):
                done += 1
                if done % 2000 == 0:
                    say(f"  {done:,} uploaded after {time.monotonic() - begin:.0f}s")
        while len(listed(repodata)) < len(paths):
            if time.monotonic() - begin > args.time_limit:
                raise RuntimeError("repodata.json never listed every upload")
            time.sleep(0.05)
        bulk = time.monotonic() - begin
        bulk_cpu = cpu_seconds(sluice.process.pid) - cpu_before
        if profiler:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=120)
            say(f"perf profile of the bulk import: {args.profile}")
        say(f"sluice bulk import by upload ({args.upload_concurrency} clients), {len(paths):,} packages until "
            f"repodata.json lists them all: {bulk:.2f}s ({len(paths) / bulk:.0f} uploads/s; sluice used "
            f"{bulk_cpu:.1f} CPU seconds)")

        # Sluice: a cold full index from the database after a restart.
        sluice.stop()
        sluice = Sluice(args.binary, workdir, password=sluice.password)
        repodata = f"{sluice.url}/conda/{feed}/linux-64/repodata.json"
        begin = time.monotonic()
        response = requests.get(repodata, timeout=600, headers={"Accept-Encoding": "identity"})
        cold = time.monotonic() - begin
        if response.status_code != 200 or len(response.json().get("packages", {})) != len(paths):
            raise RuntimeError(f"repodata.json after the restart: {response.status_code}")
        shard_index = requests.get(f"{sluice.url}/conda/{feed}/linux-64/repodata_shards.msgpack.zst", timeout=60)
        say(f"sluice cold index from its database after a restart (first GET repodata.json, every variant and the "
            f"shards built): {cold:.2f}s (shard index: {shard_index.status_code})")

        # Sluice: one more package into the full feed.
        begin = time.monotonic()
        upload(extra, sluice.url)
        while extra.name not in listed(repodata):
            time.sleep(0.01)
        one = time.monotonic() - begin
        say(f"sluice: one more upload into the {len(paths):,}-package feed until repodata.json lists it: {one:.2f}s")

        summary = [
            (f"cold index of {len(paths):,} packages", f"{rattler_cold:.2f} s", f"{cold:.2f} s",
             ratio(rattler_cold, cold)),
            (f"bulk import of {len(paths):,} packages (Sluice: uploads, {args.upload_concurrency} clients)",
             f"{rattler_cold:.2f} s", f"{bulk:.2f} s", ratio(rattler_cold, bulk)),
            ("one more package into the full channel", f"{rattler_one:.2f} s", f"{one:.2f} s",
             ratio(rattler_one, one)),
        ]
        say()
        say("| what | rattler index_fs | Sluice | rattler / Sluice |")
        say("|---|---:|---:|---:|")
        for row in summary:
            say("| " + " | ".join(row) + " |")
        return 0
    finally:
        signal.alarm(0)
        if sluice:
            sluice.stop()
            kept = Path(tempfile.gettempdir()) / "sluice-bench-index-last.log"
            shutil.copyfile(workdir / "sluice.log", kept)
            say(f"sluice's log: {kept}")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
