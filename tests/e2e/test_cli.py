"""The `sluice` command line as a client of a running server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import requests

from sluice_e2e import SluiceServer, clean_environment


def test_feeds_create_list_get_update_delete(server: SluiceServer) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    created = server.cli("feeds", "create", name, "--description", "made by the CLI")
    assert name in created.stdout

    listed = server.cli("feeds", "list")
    header = listed.stdout.splitlines()[0]
    assert "NAME" in header
    assert any(line.split()[0] == name for line in listed.stdout.splitlines()[2:]), listed.stdout

    as_json = json.loads(server.cli("feeds", "list", "--json").stdout)
    feeds = as_json if isinstance(as_json, list) else next(v for v in as_json.values() if isinstance(v, list))
    mine = next(feed for feed in feeds if feed["name"] == name)
    assert mine["feedType"] == "conda"
    assert mine["description"] == "made by the CLI"

    shown = server.cli("feeds", "get", name)
    assert name in shown.stdout and "made by the CLI" in shown.stdout

    server.cli("feeds", "update", name, "--description", "changed", "--inactive")
    updated = json.loads(server.cli("feeds", "get", name, "--json").stdout)
    assert updated["description"] == "changed"
    assert updated["active"] is False
    server.cli("feeds", "update", name, "--active")
    assert json.loads(server.cli("feeds", "get", name, "--json").stdout)["active"] is True

    duplicate = server.cli("feeds", "create", name, check=False)
    assert duplicate.returncode == 1
    assert duplicate.stderr.strip(), "the server's message is printed"

    server.cli("feeds", "delete", name)
    assert name not in [line.split()[0] for line in server.cli("feeds", "list").stdout.splitlines()[2:] if line]
    missing = server.cli("feeds", "get", name, check=False)
    assert missing.returncode == 1 and "404" in missing.stderr


def test_the_issues_example_feed_name_works(server: SluiceServer) -> None:
    # `sluice feeds create internal-conda` is the example of issue 2 and of the README.
    server.cli("feeds", "create", "internal-conda")
    assert json.loads(server.cli("feeds", "get", "internal-conda", "--json").stdout)["name"] == "internal-conda"
    assert requests.get(f"{server.channel('internal-conda')}/noarch/repodata.json", timeout=10).status_code == 200
    server.cli("feeds", "delete", "internal-conda")


def test_invalid_feed_name_shows_the_server_message(server: SluiceServer) -> None:
    result = server.cli("feeds", "create", "Not_Valid!", check=False)
    assert result.returncode == 1
    assert "400" in result.stderr


def test_packages_upload_list_delete(server: SluiceServer, fixtures: Path, tmp_path: Path) -> None:
    feed = f"cli_{uuid.uuid4().hex[:8]}"
    server.cli("feeds", "create", feed)
    recipes = fixtures / "packages" / "conda-test-recipes"
    files = [recipes / "versioned-1.0-0.conda", recipes / "versioned-2.0-0.conda", recipes / "dependency-1.0-0.conda"]
    junk = tmp_path / "junk-1.0-0.conda"
    junk.write_bytes(b"not a zip")

    result = server.cli("packages", "upload", "--feed", feed, *map(str, files), str(junk), check=False)
    assert result.returncode == 1, "one upload failed, so the exit status says so"
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    for path in files:
        assert any(line.startswith("uploaded") and path.name in line for line in lines), result.stdout
    assert any(line.startswith("failed") and junk.name in line for line in lines), result.stdout

    repodata = requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10).json()
    assert set(repodata["packages.conda"]) == {path.name for path in files}

    listed = server.cli("packages", "list", "--feed", feed, "--name", "versioned")
    rows = [line for line in listed.stdout.splitlines()[2:] if line.strip()]
    assert len(rows) == 2 and all("versioned" in row for row in rows), listed.stdout

    server.cli("packages", "delete", "--feed", feed, "--name", "versioned", "--version", "1.0")
    server.cli("packages", "delete", "--feed", feed, "--filename", "dependency-1.0-0.conda", "--subdir", "noarch")
    repodata = requests.get(f"{server.channel(feed)}/noarch/repodata.json", timeout=10).json()
    assert set(repodata["packages.conda"]) == {"versioned-2.0-0.conda"}

    gone = server.cli("packages", "delete", "--feed", feed, "--filename", "dependency-1.0-0.conda", check=False)
    assert gone.returncode == 1

    # Same file again without --overwrite is fine (identical bytes); the CLI reports it per file.
    again = server.cli("packages", "upload", "--feed", feed, str(files[1]))
    assert again.stdout.startswith("uploaded")


def test_client_errors_without_a_server_or_credentials(server: SluiceServer, binary: Path) -> None:
    import subprocess

    unreachable = subprocess.run(
        [str(binary), "feeds", "list", "--server", "http://127.0.0.1:9"], capture_output=True, text=True,
        env=clean_environment(), timeout=60,
    )
    assert unreachable.returncode == 1
    assert "127.0.0.1:9" in unreachable.stderr

    anonymous = subprocess.run(
        [str(binary), "feeds", "create", "anon-feed", "--server", server.url], capture_output=True, text=True,
        env=clean_environment(), timeout=60,
    )
    assert anonymous.returncode == 1 and "401" in anonymous.stderr

    version = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("sluice ")
