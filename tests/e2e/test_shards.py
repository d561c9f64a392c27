"""CEP 16 sharded repodata through a real client: py-rattler (sharded repodata is on by default) solves and installs
from a hosted feed and from a proxy feed whose upstream (another Sluice with `channel.serveShards: false`) offers no
shards. A recording HTTP proxy on 127.0.0.1 in front of each server logs every request py-rattler makes, so the test
asserts which files it fetched: the shard index and shards, never `repodata.json`. The installed result must equal
the one from the monolithic repodata of the server with shards switched off."""

from __future__ import annotations

import asyncio
import dataclasses
import http.client
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import zstandard

from rattler import Channel, Client, Gateway, SourceConfig, Subdir, install, solve

from sluice_e2e import SluiceServer, fixtures_directory

FEED = "recipes"
SPECS = ["another_dependent", "dummy-a"]
EXPECTED = {"another_dependent": "2.0", "dependent": "2.0", "dependency": "2.0", "dummy-a": "0.1.0", "dummy-c": "0.1.0"}
# Request headers that belong to one connection, not to the request.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"}


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    path: str
    status: int
    cache_control: str | None


class RecordingProxy:
    """A plain HTTP reverse proxy on 127.0.0.1 that forwards every request to `target` unchanged (bytes and headers,
    no decompression) and records method, path, status and the request's `Cache-Control`."""

    def __init__(self, target: str):
        parts = urlsplit(target)
        self.target_host, self.target_port = parts.hostname, parts.port
        self.seen: list[Seen] = []
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                connection = http.client.HTTPConnection(proxy.target_host, proxy.target_port, timeout=60)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    with lock:
                        proxy.seen.append(Seen(self.command, self.path, response.status, self.headers.get("Cache-Control")))
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    if self.command == "HEAD":
                        self.send_header("Content-Length", response.getheader("Content-Length") or "0")
                    else:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    connection.close()

            do_GET = _forward
            do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def paths(self) -> list[str]:
        return [seen.path for seen in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _solve_and_install(channel_url: str, workdir: Path) -> tuple[list, Path]:
    """py-rattler with its default source configuration (sharded repodata enabled), a fresh cache and prefix."""
    cache = workdir / "cache"
    prefix = workdir / "prefix"
    assert SourceConfig().sharded_enabled, "py-rattler enables sharded repodata by default"

    async def run():
        gateway = Gateway(cache_dir=cache, client=Client.default_client(), default_config=SourceConfig())
        records = await solve(
            [Channel(channel_url)], SPECS, gateway=gateway,
            platforms=[Subdir("linux-64"), Subdir("noarch")], virtual_packages=[],
        )
        await install(records, target_prefix=prefix, cache_dir=cache / "pkgs", client=Client.default_client(),
                      show_progress=False)
        return records

    return asyncio.run(run()), prefix


def _installed(prefix: Path) -> dict[str, tuple]:
    """conda-meta of a prefix: package → (version, build, sha256, sorted files), without the channel URL."""
    result = {}
    for meta in sorted((prefix / "conda-meta").glob("*.json")):
        data = json.loads(meta.read_text())
        result[data["name"]] = (data["version"], data["build"], data["sha256"], tuple(sorted(data.get("files", []))))
    return result


def _assert_used_shards(proxy: RecordingProxy, feed_path: str) -> None:
    seen = proxy.seen
    paths = proxy.paths()
    for subdir in ("linux-64", "noarch"):
        assert f"{feed_path}/{subdir}/repodata_shards.msgpack.zst" in paths, paths
    shard_requests = [s for s in seen if "/shards/" in s.path and s.path.endswith(".msgpack.zst")]
    # another_dependent, dependent, dependency (noarch), dummy-a, dummy-c (linux-64) at least.
    assert len(shard_requests) >= 5, paths
    assert all(s.status == 200 for s in shard_requests), [(s.path, s.status) for s in shard_requests]
    assert all(s.cache_control == "no-store" for s in shard_requests), "rattler asks for shards with no-store"
    assert not [p for p in paths if "repodata.json" in p or "current_repodata" in p], paths
    index_statuses = {s.path: s.status for s in seen if s.path.endswith("repodata_shards.msgpack.zst")}
    assert set(index_statuses.values()) == {200}, index_statuses


def _start(binary: Path, workdir: Path, extra_args: list[str] | None = None) -> SluiceServer:
    instance = SluiceServer(binary, workdir, admin_password=secrets.token_urlsafe(16), extra_args=extra_args)
    instance.start()
    return instance


def test_py_rattler_installs_through_shards(binary: Path, tmp_path: Path) -> None:
    fixtures = fixtures_directory()
    packages = sorted((fixtures / "packages" / "conda-test-recipes").glob("*.conda")) + [
        fixtures / "packages" / "pixi" / name for name in ("dummy-a-0.1.0-hb0f4dca_0.conda", "dummy-c-0.1.0-hb0f4dca_0.conda")
    ]
    config = tmp_path / "no-shards.yml"
    config.write_text("channel:\n  serveShards: false\n")
    monolithic = _start(binary, tmp_path / "monolithic", ["--config", str(config)])
    sharded = _start(binary, tmp_path / "sharded")
    proxies: list[RecordingProxy] = []
    try:
        for server in (monolithic, sharded):
            server.cli("feeds", "create", FEED)
            server.cli("packages", "upload", "--feed", FEED, *map(str, packages))
        # A proxy feed on the sharded server over the monolithic one, whose upstream has no shards.
        sharded.cli("feeds", "create-pair", "--upstream", monolithic.channel(FEED), "--connector", "mono")

        # The server with shards off: the client falls back to repodata.json.
        plain_proxy = RecordingProxy(monolithic.url)
        proxies.append(plain_proxy)
        plain_records, plain_prefix = _solve_and_install(f"{plain_proxy.url}/conda/{FEED}/", tmp_path / "plain")
        assert {r.name.normalized: str(r.version) for r in plain_records} == EXPECTED
        plain_paths = plain_proxy.paths()
        assert any(p.startswith(f"/conda/{FEED}/noarch/repodata.json") for p in plain_paths), plain_paths
        assert not [s for s in plain_proxy.seen if "/shards/" in s.path], plain_paths
        assert {s.status for s in plain_proxy.seen if s.path.endswith("repodata_shards.msgpack.zst")} == {404}
        expected = _installed(plain_prefix)
        assert set(expected) == set(EXPECTED)

        for feed in (FEED, "unapproved-conda"):
            proxy = RecordingProxy(sharded.url)
            proxies.append(proxy)
            records, prefix = _solve_and_install(f"{proxy.url}/conda/{feed}/", tmp_path / f"sharded-{feed}")
            assert {r.name.normalized: str(r.version) for r in records} == EXPECTED, feed
            _assert_used_shards(proxy, f"/conda/{feed}")
            assert _installed(prefix) == expected, f"{feed}: the same install as from repodata.json"
            # Package URLs resolve under the channel (info.base_url is relative).
            for record in records:
                assert record.url.startswith(f"{proxy.url}/conda/{feed}/"), record.url

        # The shards decode to the same records as the sharded server's own repodata.json (checked from Python).
        import requests

        base = f"{sharded.url}/conda/{FEED}/noarch"
        repodata = requests.get(f"{base}/repodata.json", timeout=30).json()
        index_response = requests.get(f"{base}/repodata_shards.msgpack.zst", timeout=30)
        assert index_response.headers["Cache-Control"].startswith("public, max-age=")
        index = _msgpack(zstandard.ZstdDecompressor().decompress(index_response.content, max_output_size=1 << 24))
        assert index["info"]["base_url"] == "" and index["info"]["shards_base_url"] == "shards/"
        names = {record["name"] for section in ("packages", "packages.conda") for record in repodata[section].values()}
        assert set(index["shards"]) == names
    finally:
        for proxy in proxies:
            proxy.close()
        for server in (sharded, monolithic):
            status = server.stop(timeout=10)
            assert status == 0, server.log_text()[-3000:]


def _msgpack(data: bytes):
    """A small MessagePack decoder (maps, strings, binary, ints, arrays, nil, bools) for the index check."""

    def read(pos: int):
        byte = data[pos]
        if byte <= 0x7F:
            return byte, pos + 1
        if 0x80 <= byte <= 0x8F:
            return read_map(byte & 0x0F, pos + 1)
        if 0x90 <= byte <= 0x9F:
            return read_array(byte & 0x0F, pos + 1)
        if 0xA0 <= byte <= 0xBF:
            length = byte & 0x1F
            return data[pos + 1 : pos + 1 + length].decode(), pos + 1 + length
        if byte == 0xC0:
            return None, pos + 1
        if byte in (0xC2, 0xC3):
            return byte == 0xC3, pos + 1
        if byte in (0xC4, 0xC5, 0xC6):
            size = {0xC4: 1, 0xC5: 2, 0xC6: 4}[byte]
            length = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
            start = pos + 1 + size
            return bytes(data[start : start + length]), start + length
        if byte in (0xD9, 0xDA, 0xDB):
            size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[byte]
            length = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
            start = pos + 1 + size
            return data[start : start + length].decode(), start + length
        if byte in (0xCC, 0xCD, 0xCE, 0xCF):
            size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[byte]
            return int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size
        if byte in (0xDE, 0xDF):
            size = 2 if byte == 0xDE else 4
            return read_map(int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size)
        if byte in (0xDC, 0xDD):
            size = 2 if byte == 0xDC else 4
            return read_array(int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size)
        raise ValueError(f"unsupported msgpack byte 0x{byte:02x} at {pos}")

    def read_map(count: int, pos: int):
        result = {}
        for _ in range(count):
            key, pos = read(pos)
            value, pos = read(pos)
            result[key] = value
        return result, pos

    def read_array(count: int, pos: int):
        result = []
        for _ in range(count):
            value, pos = read(pos)
            result.append(value)
        return result, pos

    value, end = read(0)
    assert end == len(data)
    return value
