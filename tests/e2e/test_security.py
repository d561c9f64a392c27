"""Security end to end, with the real binary and a real conda client (py-rattler).

One server with two private feeds: once anonymous access is removed, an install without credentials fails with an
authentication error; a feed key for the feed lets the install through every way rattler can carry it (the
`/t/<key>/` URL prefix in both positions, an authentication-storage entry for Basic `api:<key>`, a bearer token or a
conda token, `api:<key>@` in the URL, an `X-ApiKey` header); a key for the other feed, or a wrong key, fails. The key
text never appears in served repodata, the event log or the server's log.

Then the seed's Step 2 through the CLI: a "Network Engineers" group gets Promote Packages on `unapproved-conda`; a
member promotes, a non-member gets 403, and the promotion history names the member."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
from pathlib import Path

import pytest
import requests
from rattler import Channel, Client, Gateway, SourceConfig, Subdir, install, solve

from sluice_e2e import PackageFile, SluiceServer
from test_install import _assert_installed, _by_name

FEED = "private-a"
OTHER_FEED = "private-b"
CHAIN = {"another_dependent": "2.0", "dependent": "2.0", "dependency": "2.0"}


@dataclasses.dataclass
class SecuredServer:
    server: SluiceServer
    key: str  # View & Download on FEED only
    other_key: str  # View & Download on OTHER_FEED only


def _rows(table: str) -> list[list[str]]:
    """The data rows of a CLI table (after the header and the dashed rule), split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()[2:] if line.strip()]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, binary: Path, fixtures: Path):
    """A server whose feeds are private: FEED holds the conda-test-recipes packages, OTHER_FEED one package;
    anonymous access is disabled through the CLI, and a view key exists for each feed."""
    server = SluiceServer(binary, tmp_path_factory.mktemp("secured"), admin_password=secrets.token_urlsafe(16))
    server.start()
    try:
        recipes = sorted((fixtures / "packages" / "conda-test-recipes").glob("*.conda"))
        server.cli("feeds", "create", FEED)
        server.cli("feeds", "create", OTHER_FEED)
        server.cli("packages", "upload", "--feed", FEED, *map(str, recipes))
        server.cli("packages", "upload", "--feed", OTHER_FEED, str(recipes[0]))
        assert requests.get(f"{server.channel(FEED)}/noarch/repodata.json", timeout=30).status_code == 200

        assert server.cli("anonymous-access", "status").stdout.strip() == "Anonymous access is enabled."
        server.cli("anonymous-access", "disable")
        assert server.cli("anonymous-access", "status").stdout.strip() == "Anonymous access is disabled."

        def create_key(feed: str) -> str:
            result = server.cli(
                "api-keys", "create", "--type", "feed", "--feed", feed, "--permission", "view",
                "--display-name", f"conda clients of {feed}", "--key-only",
            )
            key = result.stdout.strip()
            assert re.fullmatch(r"[A-Za-z0-9-]{32,}", key), result.stdout
            return key

        yield SecuredServer(server, create_key(FEED), create_key(OTHER_FEED))
    finally:
        status = server.stop(timeout=10)
        assert status == 0, f"sluice serve exited {status} after SIGTERM:\n{server.log_text()[-4000:]}"


def _install(channel_url: str, workdir: Path, client_factory=Client.default_client) -> tuple[list, Path]:
    """Solves `another_dependent` from `channel_url` and installs it into a fresh prefix, with fresh caches (so
    nothing is served from an earlier run), using clients made by `client_factory`."""
    cache = workdir / "cache"
    prefix = workdir / "prefix"

    async def run():
        gateway = Gateway(
            cache_dir=cache, client=client_factory(),
            default_config=SourceConfig(sharded_enabled=True, zstd_enabled=True, bz2_enabled=True),
        )
        records = await solve(
            [Channel(channel_url)], ["another_dependent"], gateway=gateway,
            platforms=[Subdir("linux-64"), Subdir("noarch")], virtual_packages=[],
        )
        await install(records, target_prefix=prefix, cache_dir=cache / "pkgs", client=client_factory(),
                      show_progress=False)
        return records

    return asyncio.run(run()), prefix


def _auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: dict) -> None:
    """Points rattler's authentication storage at a file holding only `entries` (host without port → credential),
    so no credential of the machine (keyring, ~/.rattler, ~/.netrc) takes part."""
    path = tmp_path / "rattler-auth.json"
    path.write_text(json.dumps(entries))
    monkeypatch.setenv("RATTLER_AUTH_FILE", str(path))


# Every way py-rattler can carry a key: (id, how the channel URL is built, authentication storage entry or None,
# extra headers or None).
WAYS = [
    ("t-prefix", lambda server, key: f"{server.url}/t/{key}/conda/{FEED}/", None, None),
    ("t-after-location", lambda server, key: f"{server.url}/conda/t/{key}/{FEED}/", None, None),
    ("auth-file-basic", lambda server, key: f"{server.channel(FEED)}/",
     lambda key: {"BasicHTTP": {"username": "api", "password": key}}, None),
    ("auth-file-bearer", lambda server, key: f"{server.channel(FEED)}/", lambda key: {"BearerToken": key}, None),
    ("auth-file-conda-token", lambda server, key: f"{server.channel(FEED)}/", lambda key: {"CondaToken": key}, None),
    ("url-userinfo", lambda server, key: f"http://api:{key}@127.0.0.1:{server.port}/conda/{FEED}/", None, None),
    ("x-apikey-header", lambda server, key: f"{server.channel(FEED)}/", None, lambda key: {"X-ApiKey": key}),
]


def _attempt(way, secured: SecuredServer, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _name, make_url, storage_entry, headers = way
    _auth_file(tmp_path, monkeypatch, {"127.0.0.1": storage_entry(key)} if storage_entry else {})

    def client_factory() -> Client:
        return Client.default_client(headers=headers(key) if headers else None)

    return _install(make_url(secured.server, key), tmp_path, client_factory)


def test_install_without_credentials_fails_with_an_authentication_error(
    secured: SecuredServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = secured.server
    response = requests.get(f"{server.channel(FEED)}/noarch/repodata.json", timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Sluice"'
    _auth_file(tmp_path, monkeypatch, {})
    with pytest.raises(Exception) as failure:
        _install(f"{server.channel(FEED)}/", tmp_path)
    assert "401 Unauthorized" in str(failure.value), failure.value
    assert not (tmp_path / "prefix" / "conda-meta").exists()


@pytest.mark.parametrize("way", WAYS, ids=[way[0] for way in WAYS])
def test_install_with_a_feed_key(secured: SecuredServer, way, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records, prefix = _attempt(way, secured, secured.key, tmp_path, monkeypatch)
    assert _by_name(records) == CHAIN
    _assert_installed(prefix, records)
    installed = {path.name for path in (prefix / "conda-meta").glob("*.json")}
    assert installed >= {f"{name}-{version}-0.json" for name, version in CHAIN.items()}


@pytest.mark.parametrize("way", WAYS, ids=[way[0] for way in WAYS])
def test_install_with_a_key_for_another_feed_fails(
    secured: SecuredServer, way, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Exception) as failure:
        _attempt(way, secured, secured.other_key, tmp_path, monkeypatch)
    # The key is valid, so the server knows who asks: 403, naming the task.
    assert "403 Forbidden" in str(failure.value), failure.value
    assert not (tmp_path / "prefix" / "conda-meta").exists()


@pytest.mark.parametrize("way", [WAYS[0], WAYS[2], WAYS[3]], ids=[WAYS[0][0], WAYS[2][0], WAYS[3][0]])
def test_install_with_a_wrong_key_fails(
    secured: SecuredServer, way, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Exception) as failure:
        _attempt(way, secured, "Wrong-" + secrets.token_hex(20), tmp_path, monkeypatch)
    assert "401 Unauthorized" in str(failure.value), failure.value


def test_the_other_key_opens_only_its_own_feed(secured: SecuredServer) -> None:
    server = secured.server
    headers = {"X-ApiKey": secured.other_key}
    assert requests.get(f"{server.channel(OTHER_FEED)}/noarch/repodata.json", headers=headers, timeout=30).status_code == 200
    refused = requests.get(f"{server.channel(FEED)}/noarch/repodata.json", headers=headers, timeout=30)
    assert refused.status_code == 403
    assert FEED in refused.json()["message"] and "View" in refused.json()["message"]


def test_keys_are_listed_without_their_text_and_never_leak(secured: SecuredServer) -> None:
    server = secured.server
    # Served repodata through the /t/<key>/ prefix does not carry the key (no base_url pointing at it).
    served = requests.get(f"{server.url}/t/{secured.key}/conda/{FEED}/noarch/repodata.json", timeout=30)
    assert served.status_code == 200
    assert secured.key not in served.text

    listing = server.cli("api-keys", "list")
    rows = _rows(listing.stdout)
    assert {row[2] for row in rows} == {f"conda clients of {FEED}", f"conda clients of {OTHER_FEED}"}, listing.stdout
    listed_json = server.cli("api-keys", "list", "--json").stdout
    events = server.cli("events", "--limit", "1000", "--json").stdout
    kinds = [event["kind"] for event in json.loads(events)]
    assert kinds.count("api-key-created") == 2 and "anonymous-access-changed" in kinds, kinds
    for key in (secured.key, secured.other_key):
        assert key not in listing.stdout and key not in listed_json
        assert key not in events
        assert key not in server.log_text(), "a key leaked into the server log"


def test_cli_authenticates_with_an_api_key(secured: SecuredServer) -> None:
    server = secured.server
    system = server.cli("api-keys", "create", "--type", "system", "--display-name", "ci", "--key-only").stdout.strip()
    # SLUICE_API_KEY (sent as X-ApiKey) is used instead of the Admin password from the environment.
    listed = server.cli("users", "list", "--json", env={"SLUICE_API_KEY": system})
    assert [user["name"].lower() for user in json.loads(listed.stdout)] == ["admin"]
    # A view key for one feed may not manage users: the CLI reports the server's 403.
    refused = server.cli("users", "list", "--api-key", secured.key, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
    assert secured.key not in refused.stderr
    # A custom key text from standard input (never an argument) works like a generated one.
    custom = "Custom-" + secrets.token_hex(12)
    created = server.cli(
        "api-keys", "create", "--type", "feed", "--feed", OTHER_FEED, "--key-stdin", "--json", stdin=custom + "\n")
    assert json.loads(created.stdout)["key"] == custom
    response = requests.get(f"{server.url}/t/{custom}/conda/{OTHER_FEED}/noarch/repodata.json", timeout=30)
    assert response.status_code == 200
    taken = server.cli("api-keys", "create", "--type", "feed", "--feed", FEED, "--key-stdin", stdin=custom, check=False)
    assert taken.returncode != 0 and "409" in taken.stderr and custom not in taken.stderr, taken.stderr
    # Deleting a key through the CLI stops it at once.
    key_id = str(json.loads(created.stdout)["id"])
    assert server.cli("api-keys", "delete", key_id).stdout.strip() == f"Deleted API key {key_id}."
    response = requests.get(f"{server.url}/t/{custom}/conda/{OTHER_FEED}/noarch/repodata.json", timeout=30)
    assert response.status_code == 401


def test_seed_step_2_network_engineers_promote(start_sluice, fixtures: Path, tmp_path: Path) -> None:
    recipes = sorted((fixtures / "packages" / "conda-test-recipes").glob("*.conda"))
    by_filename = {path.name: PackageFile.load(path) for path in recipes}
    upstream = start_sluice("public")
    upstream.cli("feeds", "create", "recipes")
    upstream.cli("packages", "upload", "--feed", "recipes", *map(str, recipes))
    gateway = start_sluice("gateway")
    gateway.cli("feeds", "create-pair", "--upstream", upstream.channel("recipes"), "--connector", "up")

    alice_password, bob_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    gateway.cli("users", "create", "alice", "--display-name", "Alice", "--password-stdin", stdin=alice_password + "\n")
    gateway.cli("users", "create", "bob", "--password-stdin", stdin=bob_password + "\n")
    # Without --password-stdin and without a terminal there is no prompt: a clear error, no user.
    no_password = gateway.cli("users", "create", "carol", check=False)
    assert no_password.returncode != 0 and "--password-stdin" in no_password.stderr, no_password.stderr
    weak = gateway.cli("users", "create", "carol", "--password-stdin", stdin="short\n", check=False)
    assert weak.returncode != 0 and "at least 8" in weak.stderr and "short" not in weak.stderr, weak.stderr

    gateway.cli("groups", "create", "Network Engineers", "--description", "approve packages")
    gateway.cli("groups", "add-member", "Network Engineers", "alice")
    # Exactly the seed's grant and nothing else (anonymous View & Download, the default, is still on).
    granted = gateway.cli(
        "permissions", "grant", "--group", "Network Engineers", "--task", "promote", "--feed", "unapproved-conda")
    assert "Promote Packages" in granted.stdout and "unapproved-conda" in granted.stdout, granted.stdout

    groups = _rows(gateway.cli("groups", "list").stdout)
    assert groups == [["Network Engineers", "alice", "approve packages"]], groups
    users = {row[0]: row for row in _rows(gateway.cli("users", "list").stdout)}
    assert "Network Engineers" in users["alice"] and "Network Engineers" not in users["bob"], users
    permissions = _rows(gateway.cli("permissions", "list").stdout)
    assert any(row[1:5] == ["permission", "group Network Engineers", "Promote Packages", "unapproved-conda"]
               for row in permissions), permissions

    # A member promotes the chain from unapproved-conda into approved-conda.
    for name, version in CHAIN.items():
        result = gateway.cli_as(
            "alice", alice_password, "promote", "--from", "unapproved-conda", "--to", "approved-conda", name, version,
            "--comment", "reviewed by net eng")
        assert result.stdout.startswith("Promoted 1 file(s)"), result.stdout

    # A user outside the group is refused (403 naming the task and feed); nothing more is promoted.
    refused = gateway.cli_as(
        "bob", bob_password, "promote", "--from", "unapproved-conda", "--to", "approved-conda", "versioned", "1.0",
        check=False)
    assert refused.returncode == 1, refused.stdout
    assert "403" in refused.stderr and "Promote Packages" in refused.stderr and "unapproved-conda" in refused.stderr
    approved = requests.get(f"{gateway.channel('approved-conda')}/noarch/repodata.json", timeout=30).json()
    assert set(approved["packages.conda"]) == {f"{name}-{version}-0.conda" for name, version in CHAIN.items()}
    for filename, record in approved["packages.conda"].items():
        assert record["sha256"] == by_filename[filename].sha256

    # The history shows who promoted.
    history = _rows(gateway.cli("promote", "history", "--to", "approved-conda").stdout)
    assert len(history) == 3, history
    for row in history:
        assert row[1] in CHAIN and row[4] == "unapproved-conda" and row[5] == "approved-conda", row
        assert row[6] == "alice", row

    # A restriction on the user beats the group's permission.
    restricted = gateway.cli(
        "permissions", "restrict", "--user", "alice", "--task", "promote", "--feed", "unapproved-conda")
    assert restricted.stdout.startswith("Restricted Promote Packages on feed unapproved-conda for user alice"), restricted.stdout
    again = gateway.cli_as(
        "alice", alice_password, "promote", "--from", "unapproved-conda", "--to", "approved-conda", "versioned", "1.0",
        check=False)
    assert again.returncode == 1 and "403" in again.stderr, again.stderr

    # The group's members can now install the approved packages (anonymous View is still on for this gateway).
    records, prefix = _install(f"{gateway.channel('approved-conda')}/", tmp_path)
    assert _by_name(records) == CHAIN
    _assert_installed(prefix, records)

    # Each change is in the event log, with Admin as the actor and no password anywhere.
    events = json.loads(gateway.cli("events", "--json").stdout)
    kinds = {event["kind"] for event in events}
    assert {"user-created", "group-created", "group-changed", "privilege-added"} <= kinds, kinds
    assert alice_password not in json.dumps(events) and bob_password not in json.dumps(events)
    assert alice_password not in gateway.log_text() and bob_password not in gateway.log_text()
