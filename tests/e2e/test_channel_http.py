"""The conda channel over HTTP, as clients see it: variants, HEAD, conditional requests, ranges, 404s."""

from __future__ import annotations

import bz2
import http.client
import uuid

import pytest
import requests

from sluice_e2e import SluiceServer, zstd_decompress

IDENTITY = {"Accept-Encoding": "identity"}


def _raw_get(server: SluiceServer, path: str, method: str = "GET") -> tuple[int, bytes]:
    """A request whose path is sent exactly as written (requests would normalise `..` and `//`)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, headers=IDENTITY)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("subdir", ["noarch", "linux-64", "osx-64"])
def test_compressed_variants_decompress_to_repodata_json(server: SluiceServer, hosted_feed, subdir: str) -> None:
    base = f"{server.channel(hosted_feed.name)}/{subdir}"
    plain = requests.get(f"{base}/repodata.json", headers=IDENTITY, timeout=30)
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    zst = requests.get(f"{base}/repodata.json.zst", timeout=30)
    assert zst.status_code == 200 and "Content-Encoding" not in zst.headers
    assert zstd_decompress(zst.content) == plain.content
    bz = requests.get(f"{base}/repodata.json.bz2", timeout=30)
    assert bz.status_code == 200 and "Content-Encoding" not in bz.headers
    assert bz2.decompress(bz.content) == plain.content
    assert len({plain.headers["ETag"], zst.headers["ETag"], bz.headers["ETag"]}) == 3

    current = requests.get(f"{base}/current_repodata.json", headers=IDENTITY, timeout=30)
    assert current.status_code == 200
    current_zst = requests.get(f"{base}/current_repodata.json.zst", timeout=30)
    assert zstd_decompress(current_zst.content) == current.content
    # current_repodata keeps the newest version of each name, so it lists no more than repodata.json.
    full, latest = plain.json(), current.json()
    for section in ("packages", "packages.conda"):
        assert set(latest.get(section, {})) <= set(full.get(section, {}))


def test_repodata_caching_headers_head_and_conditional_requests(server: SluiceServer, hosted_feed) -> None:
    url = f"{server.channel(hosted_feed.name)}/noarch/repodata.json"
    response = requests.get(url, headers=IDENTITY, timeout=30)
    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert etag.startswith('"') and etag.endswith('"'), "a strong ETag"
    assert response.headers["Cache-Control"] == "public, max-age=60"

    head = requests.head(url, headers=IDENTITY, timeout=30)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == etag
    assert int(head.headers["Content-Length"]) == len(response.content)

    not_modified = requests.get(url, headers={**IDENTITY, "If-None-Match": etag}, timeout=30)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert requests.get(url, headers={**IDENTITY, "If-Modified-Since": modified}, timeout=30).status_code == 304
    assert requests.get(url, headers={**IDENTITY, "If-None-Match": '"other"'}, timeout=30).status_code == 200

    gzipped = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert gzipped.status_code == 200
    assert gzipped.content == response.content  # requests undoes the gzip, if the server applied one


def test_package_file_ranges_and_headers(server: SluiceServer, hosted_feed) -> None:
    package = next(p for p in hosted_feed.files if p.filename == "xtensor-io-0.10.3-hb585cf6_0.tar.bz2")
    data = package.path.read_bytes()
    url = f"{server.channel(hosted_feed.name)}/{package.subdir}/{package.filename}"

    full = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert full.status_code == 200 and full.content == data
    assert "Content-Encoding" not in full.headers
    assert full.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert full.headers.get("Accept-Ranges") == "bytes"

    head = requests.head(url, timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == len(data)

    tail = requests.get(url, headers={**IDENTITY, "Range": "bytes=-100"}, timeout=30)
    assert tail.status_code == 206
    assert tail.content == data[-100:]
    assert tail.headers["Content-Range"] == f"bytes {len(data) - 100}-{len(data) - 1}/{len(data)}"

    middle = requests.get(url, headers={**IDENTITY, "Range": "bytes=10-19"}, timeout=30)
    assert middle.status_code == 206 and middle.content == data[10:20]

    beyond = requests.get(url, headers={**IDENTITY, "Range": f"bytes={len(data)}-"}, timeout=30)
    assert beyond.status_code == 416
    assert beyond.headers.get("Content-Range") == f"bytes */{len(data)}"

    stale = requests.get(url, headers={**IDENTITY, "Range": "bytes=-100", "If-Range": '"stale"'}, timeout=30)
    assert stale.status_code == 200 and stale.content == data
    fresh = requests.get(url, headers={**IDENTITY, "Range": "bytes=-100", "If-Range": full.headers["ETag"]})
    assert fresh.status_code == 206 and fresh.content == data[-100:]

    assert requests.get(url, headers={"If-None-Match": full.headers["ETag"]}, timeout=30).status_code == 304


def test_missing_things_are_clean_404s(server: SluiceServer, hosted_feed) -> None:
    channel = server.channel(hosted_feed.name)
    for path in (
        "win-64/repodata.json",  # a platform subdir without packages
        "linux-aarch64/repodata.json.zst",
        f"noarch/shards/{'0' * 64}.msgpack.zst",  # a shard no index names
        "noarch/no-such-package-1.0-0.conda",
        "not-a-subdir/repodata.json",
        "noarch/index.html",
    ):
        response = requests.get(f"{channel}/{path}", timeout=10)
        assert response.status_code == 404, (path, response.status_code)
        assert "text/html" not in response.headers.get("Content-Type", ""), path
    assert requests.get(f"{server.url}/conda/no-such-feed/noarch/repodata.json", timeout=10).status_code == 404
    assert requests.head(f"{channel}/win-64/repodata.json", timeout=10).status_code == 404


def test_empty_feed_serves_an_empty_noarch(server: SluiceServer) -> None:
    feed = f"empty_{uuid.uuid4().hex[:8]}"
    server.create_feed(feed)
    response = requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10)
    assert response.status_code == 200
    repodata = response.json()
    assert repodata["info"]["subdir"] == "noarch"
    assert repodata.get("packages", {}) == {} and repodata.get("packages.conda", {}) == {}
    assert zstd_decompress(requests.get(f"{server.channel(feed)}/noarch/repodata.json.zst").content) == response.content
    assert requests.get(f"{server.channel(feed)}/linux-64/repodata.json", timeout=10).status_code == 404
    channeldata = requests.get(f"{server.channel(feed)}/channeldata.json", timeout=10)
    assert channeldata.status_code == 200
    assert isinstance(channeldata.json(), dict)


def test_paths_are_normalised_and_cannot_leave_the_feed(server: SluiceServer, hosted_feed) -> None:
    feed = hosted_feed.name
    status, reference = _raw_get(server, f"/conda/{feed}/noarch/repodata.json")
    assert status == 200
    for variant in (f"/conda/{feed}/./noarch/repodata.json", f"/conda/{feed}//noarch//repodata.json",
                    f"/conda/{feed}/linux-64/../noarch/repodata.json"):
        status, body = _raw_get(server, variant)
        assert status == 200, variant
        assert body == reference, variant
    for escape in (f"/conda/{feed}/noarch/../../../etc/passwd", f"/conda/{feed}/../../../../../etc/passwd",
                   f"/conda/{feed}/noarch/%2e%2e/%2e%2e/%2e%2e/etc/passwd"):
        status, body = _raw_get(server, escape)
        assert status in (400, 404), (escape, status)
        assert b'"packages"' not in body


def test_channeldata_lists_the_hosted_packages(server: SluiceServer, hosted_feed) -> None:
    response = requests.get(f"{server.channel(hosted_feed.name)}/channeldata.json", timeout=10)
    assert response.status_code == 200
    channeldata = response.json()
    names = {package.index["name"] for package in hosted_feed.files}
    assert set(channeldata["packages"]) == names
    assert set(channeldata["subdirs"]) >= hosted_feed.subdirs
