"""Uploads through the real server: every fixture lands in the right subdir; conflicts and bad input are refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import requests

from sluice_e2e import PackageFile, SluiceServer, dict_items


def _feed(server: SluiceServer) -> str:
    name = f"up_{uuid.uuid4().hex[:10]}"
    server.create_feed(name)
    return name


def test_every_fixture_is_listed_in_its_subdir_repodata(server: SluiceServer, hosted_feed) -> None:
    assert len(hosted_feed.files) == 98  # 101 fixture packages minus the 3 edge cases
    for subdir in sorted(hosted_feed.subdirs):
        response = requests.get(f"{server.channel(hosted_feed.name)}/{subdir}/repodata.json", timeout=30)
        assert response.status_code == 200, (subdir, response.status_code)
        repodata = response.json()
        assert repodata["info"]["subdir"] == subdir
        expected = hosted_feed.in_subdir(subdir)
        listed = set(repodata.get("packages", {})) | set(repodata.get("packages.conda", {}))
        assert listed == {package.filename for package in expected}, subdir
        for package in expected:
            record = repodata[package.section][package.filename]
            assert (record["sha256"], record["md5"], record["size"]) == (package.sha256, package.md5, package.size)
            assert record["subdir"] == subdir
    assert hosted_feed.subdirs == {"noarch", "linux-64", "osx-64"}


def test_cli_upload_printed_one_line_per_file(hosted_feed) -> None:
    lines = [line for line in hosted_feed.cli_output.splitlines() if line.strip()]
    cli_files = [package for package in hosted_feed.files if package.path.parent.name in {"quetz", "mamba"}]
    assert len(lines) == len(cli_files) == 7
    for package in cli_files:
        assert any(package.filename in line and line.startswith("uploaded") for line in lines), lines


def test_versions_lists_what_the_feed_holds(server: SluiceServer, hosted_feed) -> None:
    response = requests.get(
        f"{server.url}/api/packages/{hosted_feed.name}/versions", params={"name": "dependent"}, timeout=10
    )
    assert response.status_code == 200, response.text
    versions = {item.get("version") for item in dict_items(response.json()) if item.get("name") == "dependent"}
    assert versions == {"1.0", "2.0"}
    unknown = requests.get(f"{server.url}/api/packages/no-such-feed/versions", params={"name": "x"}, timeout=10)
    assert unknown.status_code == 404
    assert "error" in unknown.json() and "message" in unknown.json()


def test_identical_upload_is_a_no_op_and_other_bytes_conflict(server: SluiceServer, fixtures: Path) -> None:
    feed = _feed(server)
    original = fixtures / "packages" / "rattler" / "test-package-0.1-0.tar.bz2"
    clash = fixtures / "packages" / "edge-cases" / "test-package-0.1-0.tar.bz2"
    assert server.upload(feed, original).status_code in (200, 201)
    first = requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10)

    again = server.upload(feed, original)
    assert again.status_code == 200, again.text
    second = requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10)
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.content == first.content

    conflict = server.upload(feed, clash)
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["error"] and conflict.json()["message"]

    replaced = server.upload(feed, clash, overwrite=True)
    assert replaced.status_code in (200, 201), replaced.text
    record = requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10).json()["packages"][clash.name]
    assert record["sha256"] == PackageFile.load(clash).sha256
    served = requests.get(f"{server.channel(feed)}/noarch/{clash.name}", timeout=10)
    assert served.content == clash.read_bytes()


def test_bad_uploads_are_refused_with_a_message(server: SluiceServer, fixtures: Path, tmp_path: Path) -> None:
    feed = _feed(server)
    admin = server.admin()
    upload_url = f"{server.url}/api/packages/{feed}/upload"

    misnamed = fixtures / "packages" / "edge-cases" / "test-package-0.1-0_copy.tar.bz2"
    response = server.upload(feed, misnamed)
    assert response.status_code == 400, response.text
    assert response.json()["message"]

    not_a_package = tmp_path / "junk-1.0-0.tar.bz2"
    not_a_package.write_bytes(b"this is not a bzip2 tarball" * 10)
    response = server.upload(feed, not_a_package)
    assert response.status_code == 400, response.text

    truncated = tmp_path / "dependency-1.0-0.conda"
    truncated.write_bytes((fixtures / "packages" / "conda-test-recipes" / "dependency-1.0-0.conda").read_bytes()[:700])
    response = server.upload(feed, truncated)
    assert response.status_code == 400, response.text

    response = admin.put(f"{upload_url}/empty-1.0-0.conda", data=b"", timeout=10)
    assert response.status_code == 400, response.text

    response = admin.put(f"{server.url}/api/packages/no-such-feed/upload/dependency-1.0-0.conda", data=b"x", timeout=10)
    assert response.status_code == 404, response.text
    assert response.json()["error"]

    anonymous = requests.put(
        f"{upload_url}/dependency-1.0-0.conda",
        data=(fixtures / "packages" / "conda-test-recipes" / "dependency-1.0-0.conda").read_bytes(), timeout=10,
    )
    assert anonymous.status_code == 401

    # Nothing of the above reached the channel.
    repodata = requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10).json()
    assert repodata.get("packages", {}) == {} and repodata.get("packages.conda", {}) == {}


def test_conda_native_put_and_delete(server: SluiceServer, fixtures: Path) -> None:
    feed = _feed(server)
    admin = server.admin()
    for name in ("dependency-1.0-0.conda", "dependency-2.0-0.conda"):
        body = (fixtures / "packages" / "conda-test-recipes" / name).read_bytes()
        response = admin.put(f"{server.channel(feed)}/noarch/{name}", data=body, timeout=10)
        assert response.status_code in (200, 201), response.text
    wrong_subdir = admin.put(
        f"{server.channel(feed)}/linux-64/versioned-1.0-0.conda",
        data=(fixtures / "packages" / "conda-test-recipes" / "versioned-1.0-0.conda").read_bytes(), timeout=10,
    )
    assert wrong_subdir.status_code == 400, wrong_subdir.text

    response = admin.post(f"{server.url}/api/packages/{feed}/delete", json={"filename": "dependency-1.0-0.conda"})
    assert response.status_code == 200, response.text
    listed = requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10).json()["packages.conda"]
    assert set(listed) == {"dependency-2.0-0.conda"}
    assert requests.get(f"{server.channel(feed)}/noarch/dependency-1.0-0.conda", timeout=10).status_code == 404

    response = admin.post(
        f"{server.url}/api/packages/{feed}/delete", json={"name": "dependency", "version": "2.0"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10).json()["packages.conda"] == {}

    again = admin.post(f"{server.url}/api/packages/{feed}/delete", json={"filename": "dependency-1.0-0.conda"})
    assert again.status_code == 404, again.text
