"""Two real Sluice servers, one the other's upstream: B proxies a hosted feed of A, set up with the CLI
(`sluice connectors ...`, `sluice feeds create-pair`), and py-rattler installs through B. Then A is stopped and a new
install from a new prefix with a new client cache still works from what B cached."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import requests

from sluice_e2e import PackageFile, SluiceServer
from test_install import _assert_installed, _by_name, _solve_and_install

UPSTREAM_FEED = "recipes"
CONNECTOR = "recipes-up"
PROXY_FEED = "unapproved-conda"
INSTALLED = {"another_dependent": "2.0", "dependent": "2.0", "dependency": "2.0"}
INSTALLED_FILES = {"another_dependent-2.0-0.conda", "dependent-2.0-0.conda", "dependency-2.0-0.conda"}


def _rows(table: str) -> list[list[str]]:
    """The data rows of a CLI table (after the header and the dashed rule), split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:] if line.strip()]


def _connector(server: SluiceServer, name: str) -> dict:
    return json.loads(server.cli("connectors", "get", name, "--json").stdout)


def test_proxy_feed_between_two_sluice_servers(start_sluice, fixtures: Path, tmp_path: Path) -> None:
    recipes = sorted((fixtures / "packages" / "conda-test-recipes").glob("*.conda"))
    by_filename = {path.name: PackageFile.load(path) for path in recipes}
    assert INSTALLED_FILES <= set(by_filename)

    upstream = start_sluice("upstream")
    upstream.cli("feeds", "create", UPSTREAM_FEED)
    upstream.cli("packages", "upload", "--feed", UPSTREAM_FEED, *map(str, recipes))
    upstream_url = upstream.channel(UPSTREAM_FEED)

    proxy = start_sluice("proxy")
    outputs: list[str] = []  # everything the CLI printed, searched for the upstream password at the end

    def cli(*args: str, **options):
        result = proxy.cli(*args, **options)
        outputs.extend([result.stdout, result.stderr])
        return result

    # The proxy/hosted pair, with a filter that blocks one upstream package.
    pair = cli(
        "feeds", "create-pair", "--upstream", upstream_url, "--connector", CONNECTOR,
        "--filter", "!unsatisfiable", "--timeout", "10",
    )
    assert f"{proxy.url}/conda/{PROXY_FEED}/" in pair.stdout, pair.stdout
    feeds = {feed["name"]: feed for feed in json.loads(cli("feeds", "list", "--json").stdout)}
    assert feeds[PROXY_FEED]["kind"] == "proxy" and feeds[PROXY_FEED]["connectors"] == [CONNECTOR]
    assert feeds["approved-conda"]["kind"] == "hosted" and feeds["approved-conda"]["connectors"] == []
    feed_rows = {row[0]: row for row in _rows(cli("feeds", "list").stdout)}
    assert "proxy" in feed_rows[PROXY_FEED] and CONNECTOR in feed_rows[PROXY_FEED], feed_rows
    assert "hosted" in feed_rows["approved-conda"], feed_rows

    # A second connector with credentials, given through the environment, never on the command line.
    secret = f"upstream-{secrets.token_urlsafe(12)}"
    created = cli(
        "connectors", "create", "guarded", "--url", upstream_url + "/", "--username", "mirror",
        "--password-env", "UPSTREAM_SECRET", "--description", "credentials test", "--metadata-cache-minutes", "5",
        env={"UPSTREAM_SECRET": secret},
    )
    assert "guarded" in created.stdout
    guarded = _connector(proxy, "guarded")
    assert guarded["hasPassword"] is True and guarded["username"] == "mirror"
    assert guarded["url"] == upstream_url, "the trailing slash is dropped"
    assert guarded["metadataCacheMinutes"] == 5 and guarded["description"] == "credentials test"
    missing_variable = proxy.cli(
        "connectors", "create", "other", "--url", upstream_url, "--username", "u", "--password-env", "NOT_SET_HERE",
        check=False,
    )
    assert missing_variable.returncode != 0 and "NOT_SET_HERE" in missing_variable.stderr

    listed = {row[0]: row for row in _rows(cli("connectors", "list").stdout)}
    assert listed[CONNECTOR][1] == upstream_url and listed[CONNECTOR][2] == "10s", listed
    assert "!unsatisfiable" in listed[CONNECTOR] and PROXY_FEED in listed[CONNECTOR], listed
    assert listed[CONNECTOR][-1] == "-" and listed["guarded"][-1] == "basic (mirror)", listed

    # Partial updates: only the fields given change.
    cli("connectors", "update", "guarded", "--password-stdin", stdin=secret + "-2\n")
    cli("connectors", "update", "guarded", "--no-metadata-cache", "--filter", "dep*", "--filter", "!dependent")
    guarded = _connector(proxy, "guarded")
    assert guarded["metadataCacheEnabled"] is False and guarded["filters"] == ["dep*", "!dependent"]
    assert guarded["hasPassword"] is True and guarded["metadataCacheMinutes"] == 5
    assert "off" in {row[0]: row for row in _rows(cli("connectors", "list").stdout)}["guarded"]
    cli("connectors", "update", "guarded", "--clear-password", "--clear-filters", "--metadata-cache")
    guarded = _connector(proxy, "guarded")
    assert guarded["hasPassword"] is False and guarded["filters"] == [] and guarded["metadataCacheEnabled"] is True
    assert guarded["username"] == "mirror"
    conflicting = proxy.cli("connectors", "update", "guarded", "--clear-password", "--password-stdin", check=False)
    assert conflicting.returncode != 0

    # A feed created and updated with --connector; the connector cannot go while a feed uses it.
    cli("feeds", "create", "second-proxy", "--connector", "guarded")
    assert json.loads(cli("feeds", "get", "second-proxy", "--json").stdout)["kind"] == "proxy"
    in_use = proxy.cli("connectors", "delete", "guarded", check=False)
    assert in_use.returncode == 1 and "409" in in_use.stderr and "second-proxy" in in_use.stderr, in_use.stderr
    cli("feeds", "update", "second-proxy", "--no-connectors")
    second = json.loads(cli("feeds", "get", "second-proxy", "--json").stdout)
    assert second["kind"] == "hosted" and second["connectors"] == []
    cli("feeds", "update", "second-proxy", "--connector", CONNECTOR, "--connector", "guarded")
    assert json.loads(cli("feeds", "get", "second-proxy", "--json").stdout)["connectors"] == [CONNECTOR, "guarded"]
    cli("feeds", "delete", "second-proxy")
    shown = cli("connectors", "get", "guarded").stdout
    assert "hasPassword:" in shown and "status:" in shown, shown
    assert "Deleted connector guarded" in cli("connectors", "delete", "guarded").stdout
    assert "guarded" not in cli("connectors", "list").stdout

    # The merged repodata of the proxy feed: every upstream noarch file except the blocked one.
    channel_url = f"{proxy.channel(PROXY_FEED)}/"
    repodata = requests.get(f"{channel_url}noarch/repodata.json", timeout=30)
    assert repodata.status_code == 200, repodata.text
    served = set(repodata.json()["packages.conda"])
    noarch = {name for name, package in by_filename.items() if package.subdir == "noarch"}
    assert served == noarch - {"unsatisfiable-1.0-0.conda"}, served ^ noarch

    # First install: B fetches each package from A, verifies and caches it.
    records, prefix = _solve_and_install(channel_url, ["another_dependent"], "linux-64", tmp_path / "first")
    assert _by_name(records) == INSTALLED
    for record in records:
        assert record.url.startswith(channel_url), record.url
        assert record.sha256.hex() == by_filename[record.url.rsplit("/", 1)[1]].sha256
    _assert_installed(prefix, records)

    cached = json.loads(cli("packages", "cached", "--feed", PROXY_FEED, "--json").stdout)
    assert {item["filename"] for item in cached} == INSTALLED_FILES, cached
    for item in cached:
        fixture = by_filename[item["filename"]]
        assert item["sha256"] == fixture.sha256 and item["size"] == fixture.size, item
        assert item["connector"] == CONNECTOR and item["subdir"] == "noarch"
    cached_rows = _rows(cli("packages", "cached", "--feed", PROXY_FEED).stdout)
    assert {row[2] for row in cached_rows} == INSTALLED_FILES, cached_rows

    status = _connector(proxy, CONNECTOR)["status"]
    assert status["packageMisses"] >= 3, status
    assert status["lastRefresh"] is not None and status["lastError"] is None, status
    shown = cli("connectors", "get", CONNECTOR).stdout
    assert "status:" in shown and "packageMisses:" in shown and "health:" in shown, shown
    misses = status["packageMisses"]

    # Upstream gone: a new prefix and a new client cache still install, from B's cache alone.
    assert upstream.stop(timeout=10) == 0
    again, second_prefix = _solve_and_install(channel_url, ["another_dependent"], "linux-64", tmp_path / "second")
    assert _by_name(again) == INSTALLED
    _assert_installed(second_prefix, again)
    after = _connector(proxy, CONNECTOR)["status"]
    assert after["packageHits"] >= 3 and after["packageMisses"] == misses, after

    leaked = [text for text in outputs if secret in text]
    assert not leaked, "the upstream password was printed by the CLI"
    assert secret not in proxy.log_text(), "the upstream password was logged"
