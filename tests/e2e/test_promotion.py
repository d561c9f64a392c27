"""Promotion end to end: server A hosts the conda-test-recipes packages (the "public channel"); server B proxies it
with `sluice feeds create-pair` (unapproved-conda) next to an empty hosted feed (approved-conda). A real client
(py-rattler) cannot install from approved-conda until `sluice promote` moves the package and its dependencies there;
then it can, and `sluice promote history` shows who promoted what and why. Environment files are promoted all or
nothing with `sluice promote env`."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import requests
from rattler.exceptions import SolverError

from sluice_e2e import PackageFile, SluiceServer
from test_install import _assert_installed, _by_name, _solve_and_install

UPSTREAM_FEED = "recipes"
PROXY_FEED = "unapproved-conda"
APPROVED_FEED = "approved-conda"
COMMENT = "reviewed by net eng"
CHAIN = [("another_dependent", "2.0"), ("dependent", "2.0"), ("dependency", "2.0")]
ENVIRONMENT_FILES = ["versioned-1.0-0.conda", "buildstring-1.0-versioned_1.conda"]


def _rows(table: str) -> list[list[str]]:
    """The data rows of a CLI table (after the header and the dashed rule), split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:] if line.strip()]


def _approved_noarch(proxy: SluiceServer) -> dict:
    response = requests.get(f"{proxy.channel(APPROVED_FEED)}/noarch/repodata.json", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _explicit(upstream_url: str, lines: list[str]) -> str:
    return "# platform: linux-64\n@EXPLICIT\n" + "".join(f"{upstream_url}/noarch/{line}\n" for line in lines)


def _entry(package: PackageFile) -> str:
    return f"{package.filename}#{package.md5}"


def test_promotion_walkthrough(start_sluice, fixtures: Path, tmp_path: Path) -> None:
    recipes = sorted((fixtures / "packages" / "conda-test-recipes").glob("*.conda"))
    by_filename = {path.name: PackageFile.load(path) for path in recipes}

    upstream = start_sluice("public")
    upstream.cli("feeds", "create", UPSTREAM_FEED)
    upstream.cli("packages", "upload", "--feed", UPSTREAM_FEED, *map(str, recipes))
    upstream_url = upstream.channel(UPSTREAM_FEED)

    proxy = start_sluice("gateway")
    proxy.cli("feeds", "create-pair", "--upstream", upstream_url, "--connector", "up")
    approved_url = f"{proxy.channel(APPROVED_FEED)}/"

    # The approved feed starts empty: a client pointed at it cannot install the package.
    assert _approved_noarch(proxy)["packages.conda"] == {}
    with pytest.raises(SolverError, match="another_dependent"):
        _solve_and_install(approved_url, ["another_dependent"], "linux-64", tmp_path / "before")

    # Bad input is refused with a message naming what is wrong, and nothing changes.
    unknown = proxy.cli("promote", "--from", PROXY_FEED, "--to", APPROVED_FEED, "dependency", "9.9", check=False)
    assert unknown.returncode == 1 and "9.9" in unknown.stderr and "2.0" in unknown.stderr, unknown.stderr
    into_proxy = proxy.cli("promote", "--from", APPROVED_FEED, "--to", PROXY_FEED, "dependency", "2.0", check=False)
    assert into_proxy.returncode == 1 and "400" in into_proxy.stderr, into_proxy.stderr
    assert _approved_noarch(proxy)["packages.conda"] == {}

    # Promote the package and its dependencies (fetched from the upstream through the proxy feed).
    for name, version in CHAIN:
        result = proxy.cli("promote", "--from", PROXY_FEED, "--to", APPROVED_FEED, name, version, "--comment", COMMENT)
        filename = f"{name}-{version}-0.conda"
        assert result.stdout.splitlines()[0].startswith("Promoted 1 file(s)"), result.stdout
        rows = _rows("\n".join(result.stdout.splitlines()[1:]))
        assert len(rows) == 1, result.stdout
        assert rows[0][:3] == ["noarch", filename, "0"] and "promoted" in rows[0], rows
        assert by_filename[filename].sha256 in rows[0], rows
    served = _approved_noarch(proxy)["packages.conda"]
    assert set(served) == {f"{name}-{version}-0.conda" for name, version in CHAIN}
    for filename, record in served.items():
        assert record["sha256"] == by_filename[filename].sha256 and record["md5"] == by_filename[filename].md5

    # The client installs from the approved feed.
    records, prefix = _solve_and_install(approved_url, ["another_dependent"], "linux-64", tmp_path / "after")
    assert _by_name(records) == dict(CHAIN)
    for record in records:
        assert record.url.startswith(approved_url), record.url
        assert record.sha256.hex() == by_filename[record.url.rsplit("/", 1)[1]].sha256
    _assert_installed(prefix, records)
    assert {path.name for path in (prefix / "conda-meta").glob("*.json")} == {
        f"{name}-{version}-0.json" for name, version in CHAIN
    }

    # The history shows each promotion with its comment and user.
    history = json.loads(proxy.cli("promote", "history", "--to", APPROVED_FEED, "--json").stdout)
    assert {(group["name"], group["version"]) for group in history} == set(CHAIN)
    for group in history:
        assert len(group["promotions"]) == 1, group
        promotion = group["promotions"][0]
        assert promotion["comments"] == COMMENT and promotion["user"] == "Admin", promotion
        assert promotion["fromFeed"] == PROXY_FEED and promotion["toFeed"] == APPROVED_FEED
        assert promotion["kind"] == "promote"
        filename = f"{group['name']}-{group['version']}-0.conda"
        assert [(file["subdir"], file["filename"]) for file in promotion["files"]] == [("noarch", filename)]
        assert promotion["files"][0]["sha256"] == by_filename[filename].sha256
    narrowed = json.loads(proxy.cli("promote", "history", "--package", "dependent", "--json").stdout)
    assert [group["name"] for group in narrowed] == ["dependent"]
    table = _rows(proxy.cli("promote", "history").stdout)
    assert sorted(row[1] for row in table) == sorted(name for name, _ in CHAIN), table
    assert all(COMMENT in row and "Admin" in row and "noarch/" in row[7] for row in table), table

    # Promoting again is a no-op that says so; the history gets no duplicate.
    again = proxy.cli("promote", "package", "--from", PROXY_FEED, "--to", APPROVED_FEED, "dependency", "2.0",
                      "--json", "--comment", "twice")
    answer = json.loads(again.stdout)
    assert answer["promoted"] == 0 and answer["alreadyPromoted"] == 1, answer
    assert answer["files"][0]["result"] == "alreadyPromoted"
    text = proxy.cli("promote", "--from", PROXY_FEED, "--to", APPROVED_FEED, "dependency", "2.0").stdout
    assert "already promoted" in text.splitlines()[0], text
    history = json.loads(proxy.cli("promote", "history", "--package", "dependency", "--json").stdout)
    assert len(history) == 1 and len(history[0]["promotions"]) == 1, history

    # An environment file: a dry run reports without changing anything, then a real run promotes both files.
    environment = tmp_path / "explicit.txt"
    environment.write_text(_explicit(upstream_url, [_entry(by_filename[name]) for name in ENVIRONMENT_FILES]))
    before = _approved_noarch(proxy)
    dry = proxy.cli("promote", "env", "--from", PROXY_FEED, "--to", APPROVED_FEED, str(environment), "--dry-run")
    assert dry.stdout.startswith("Dry run: 2 file(s) would be promoted"), dry.stdout
    dry_rows = _rows("\n".join(dry.stdout.splitlines()[1:]))
    assert [(row[0], row[1], row[3]) for row in dry_rows] == [
        ("3", "wouldPromote", ENVIRONMENT_FILES[0]), ("4", "wouldPromote", ENVIRONMENT_FILES[1])
    ], dry_rows
    assert _approved_noarch(proxy) == before

    real = proxy.cli("promote", "env", "--from", PROXY_FEED, "--to", APPROVED_FEED, str(environment), "--json",
                     "--comment", "environment of team x")
    report = json.loads(real.stdout)
    assert report["format"] == "explicit" and report["dryRun"] is False and report["promoted"] == 2, report
    assert [line["status"] for line in report["lines"]] == ["promoted", "promoted"], report
    for line in report["lines"]:
        assert line["sha256"] == by_filename[line["filename"]].sha256
    served = _approved_noarch(proxy)["packages.conda"]
    assert set(served) == set(before["packages.conda"]) | set(ENVIRONMENT_FILES)
    for filename in ENVIRONMENT_FILES:
        assert served[filename]["sha256"] == by_filename[filename].sha256
    history = json.loads(proxy.cli("promote", "history", "--package", "buildstring", "--json").stdout)
    assert history[0]["promotions"][0]["comments"] == "environment of team x", history

    # All or nothing: one bogus line fails the whole file, the report names it, the approved feed is unchanged.
    bad = tmp_path / "bad.txt"
    bogus = "nonexistent-9.9-0.conda#" + hashlib.md5(b"bogus").hexdigest()
    bad.write_text(_explicit(upstream_url, [_entry(by_filename["versioned-2.0-0.conda"]), bogus]))
    before = _approved_noarch(proxy)
    failed = proxy.cli("promote", "env", "--from", PROXY_FEED, "--to", APPROVED_FEED, str(bad), check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "nothing was promoted" in failed.stderr, failed.stderr
    failed_rows = {row[0]: row for row in _rows("\n".join(failed.stdout.splitlines()[1:]))}
    assert failed_rows["4"][1] == "notFound" and failed_rows["4"][3] == "nonexistent-9.9-0.conda", failed_rows
    assert failed_rows["3"][1] == "resolved" and failed_rows["3"][3] == "versioned-2.0-0.conda", failed_rows
    failed_json = proxy.cli("promote", "env", "--from", PROXY_FEED, "--to", APPROVED_FEED, str(bad), "--json",
                            check=False)
    assert failed_json.returncode == 1
    assert [line["status"] for line in json.loads(failed_json.stdout)["lines"]] == ["resolved", "notFound"]
    assert _approved_noarch(proxy) == before
    assert "versioned-2.0-0.conda" not in _approved_noarch(proxy)["packages.conda"]
