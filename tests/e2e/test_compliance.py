"""Compliance end to end, with the real binary and a real client (py-rattler): the real Flask advisory
(GHSA-562c-5r94-xh97 / PYSEC-2018-66, CVE-2018-1000656, fixed in 0.12.3) imported with `sluice vulnerabilities
import`, the real flask-0.11.1-py_0.tar.bz2 next to a fixed build made from it. With blocking on, the solver never
sees the vulnerable build: `flask` solves to the fixed one, a pin to the vulnerable range fails in the solver (not
at download time), and a direct download of the vulnerable file is a 403 naming the advisory. Promotion of the
vulnerable build is refused with the reasons until an exception covers it."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path

import pytest
import requests
from rattler import Channel, Subdir, solve

from sluice_e2e import REPO_ROOT, SluiceServer
from test_install import _by_name, _gateway

OSV_FIXTURES = REPO_ROOT / "Tests" / "SluiceCoreTests" / "Fixtures" / "osv"
VULNERABLE = "flask-0.11.1-py_0.tar.bz2"
FIXED = "flask-0.12.3-py_0.tar.bz2"
GHSA = "GHSA-562c-5r94-xh97"
# flask's dependencies, as minimal noarch packages so that the solver can satisfy them.
DEPENDENCIES = {"click": "6.7", "itsdangerous": "0.24", "jinja2": "2.10", "python": "3.8.0", "werkzeug": "0.14.1"}


def _tar_bz2(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:bz2") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_500_000_000
            archive.addfile(info, io.BytesIO(data))
    return path


def _fixed_flask(original: Path, folder: Path) -> Path:
    """Every member of the real flask 0.11.1 package, with info/index.json saying 0.12.3."""
    members = []
    with tarfile.open(original, "r:bz2") as archive:
        for member in archive.getmembers():
            data = archive.extractfile(member).read()
            if member.name == "info/index.json":
                index = json.loads(data)
                assert index["version"] == "0.11.1"
                index["version"] = "0.12.3"
                data = json.dumps(index, indent=2).encode()
            members.append((member.name, data))
    return _tar_bz2(folder / FIXED, members)


def _stub(name: str, version: str, folder: Path) -> Path:
    index = {"name": name, "version": version, "build": "0", "build_number": 0, "depends": [], "license": "MIT",
             "noarch": "generic", "subdir": "noarch"}
    return _tar_bz2(folder / f"{name}-{version}-0.tar.bz2", [("info/index.json", json.dumps(index).encode())])


def _solve(channel_url: str, specs: list[str], cache: Path) -> dict[str, str]:
    async def run():
        return await solve([Channel(channel_url)], specs, gateway=_gateway(cache),
                           platforms=[Subdir("linux-64"), Subdir("noarch")], virtual_packages=[])

    return _by_name(asyncio.run(run()))


def test_compliance_walkthrough(start_sluice, fixtures: Path, tmp_path: Path) -> None:
    server: SluiceServer = start_sluice("compliance")
    server.cli("feeds", "create", "dev")
    server.cli("feeds", "create", "prod")
    packages = tmp_path / "packages"
    packages.mkdir()
    real = fixtures / "packages" / "conda-index" / VULNERABLE
    files = [real, _fixed_flask(real, packages)] + [_stub(n, v, packages) for n, v in DEPENDENCIES.items()]
    server.cli("packages", "upload", "--feed", "dev", *map(str, files))
    channel_url = f"{server.channel('dev')}/"

    # Without advisories (and without blocking) a pin to the old range solves to the vulnerable build.
    assert _solve(channel_url, ["flask <0.12.3"], tmp_path / "c1")["flask"] == "0.11.1"

    # Import the advisories from their directory through the CLI.
    imported = server.cli("vulnerabilities", "import", str(OSV_FIXTURES))
    assert "2 added" in imported.stdout, imported.stdout
    status = server.cli("vulnerabilities", "status")
    assert "Advisories: 2" in status.stdout and str(OSV_FIXTURES) in status.stdout, status.stdout
    listed = server.cli("vulnerabilities", "list", "--query", "CVE-2018-1000656")
    assert GHSA in listed.stdout and "PYSEC-2018-66" in listed.stdout, listed.stdout
    shown = server.cli("compliance", "show", "dev", "flask", "--version", "0.11.1")
    assert "noncompliant" in shown.stdout and "CVE-2018-1000656" in shown.stdout, shown.stdout
    assert "fixed in 0.12.3" in shown.stdout and "BSD-3-Clause" in shown.stdout, shown.stdout

    # Promotion of the vulnerable build into prod is refused with the reasons (409), the fixed one goes through.
    refused = server.cli("promote", "--from", "dev", "--to", "prod", "flask", "0.11.1", check=False)
    assert refused.returncode == 1, refused.stdout
    assert "409" in refused.stderr and "noncompliant" in refused.stderr and GHSA in refused.stderr, refused.stderr
    response = server.admin().post(f"{server.url}/api/promotions/promote", timeout=30,
                                   json={"fromFeed": "dev", "toFeed": "prod", "name": "flask", "version": "0.11.1"})
    assert response.status_code == 409
    body = response.json()
    assert GHSA in body["packages"][0]["advisories"]
    assert "sluice compliance exceptions add flask" in body["exceptionHint"]
    server.cli("promote", "--from", "dev", "--to", "prod", "flask", "0.12.3")
    # An exception for prod (as the refusal suggests) lets it through.
    added = server.cli("compliance", "exceptions", "add", "flask", "--version", "==0.11.1", "--feed", "prod",
                       "--reason", "legacy service, isolated network")
    assert added.stdout.startswith("Added exception"), added.stdout
    promoted = server.cli("promote", "--from", "dev", "--to", "prod", "flask", "0.11.1")
    assert promoted.stdout.startswith("Promoted 1 file(s)"), promoted.stdout
    exceptions = server.cli("compliance", "exceptions", "list")
    assert "legacy service" in exceptions.stdout and "prod" in exceptions.stdout, exceptions.stdout

    # Blocking on dev: the vulnerable build leaves the repodata the solver sees.
    switched = server.cli("compliance", "blocking", "dev", "on")
    assert f"now blocked: dev/noarch/{VULNERABLE}" in switched.stdout, switched.stdout
    repodata = requests.get(f"{channel_url}noarch/repodata.json", timeout=30).json()
    assert FIXED in repodata["packages"] and VULNERABLE not in repodata["packages"]
    # `flask` solves to the allowed build; a pin to the vulnerable range fails in the solver, not at download.
    assert _solve(channel_url, ["flask"], tmp_path / "c2")["flask"] == "0.12.3"
    with pytest.raises(Exception, match="flask"):
        _solve(channel_url, ["flask <0.12.3"], tmp_path / "c3")
    download = requests.get(f"{channel_url}noarch/{VULNERABLE}", timeout=30)
    assert download.status_code == 403
    assert GHSA in download.json()["packages"][0]["advisories"]
    assert requests.get(f"{channel_url}noarch/{FIXED}", timeout=30).status_code == 200
    noncompliant = server.cli("compliance", "noncompliant", "dev")
    assert "blocking is on" in noncompliant.stdout and VULNERABLE in noncompliant.stdout, noncompliant.stdout

    # Blocking off again: the vulnerable build is back.
    server.cli("compliance", "blocking", "dev", "off")
    assert _solve(channel_url, ["flask <0.12.3"], tmp_path / "c4")["flask"] == "0.11.1"

    events = server.cli("events", "--kind", "compliance-blocking-changed")
    assert VULNERABLE in events.stdout, events.stdout
