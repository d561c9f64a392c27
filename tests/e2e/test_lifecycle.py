"""`sluice serve` as a process: readiness log line, clean stop on SIGTERM/SIGINT, state kept across restarts."""

from __future__ import annotations

import signal
import secrets
from pathlib import Path

import requests

from sluice_e2e import SluiceServer


def test_serve_logs_url_stops_on_sigterm_and_keeps_state(tmp_path: Path, binary: Path, fixtures: Path) -> None:
    password = secrets.token_urlsafe(12)
    first = SluiceServer(binary, tmp_path, admin_password=password)
    first.start()
    try:
        assert f"127.0.0.1:{first.port}" in first.log_text(), first.log_text()
        assert password not in first.log_text(), "the admin password must never be logged"
        health = requests.get(f"{first.url}/health", timeout=5)
        assert health.status_code == 200
        first.create_feed("kept")
        package = fixtures / "packages" / "conda-test-recipes" / "dependency-1.0-0.conda"
        assert first.upload("kept", package).status_code in (200, 201)
    finally:
        status = first.stop(timeout=10)
    assert status == 0, first.log_text()[-3000:]

    # Same data directory: the feed, the package and the Admin password survive the restart.
    second = SluiceServer(binary, tmp_path, admin_password="another-password-is-ignored")
    second.start()
    try:
        repodata = requests.get(f"{second.channel('kept')}/noarch/repodata.json", timeout=10)
        assert repodata.status_code == 200
        assert "dependency-1.0-0.conda" in repodata.json()["packages.conda"]
        feeds = requests.get(f"{second.url}/api/management/feeds/list", auth=("Admin", password), timeout=10)
        assert feeds.status_code == 200, feeds.text
        assert "kept" in feeds.text
        blob = requests.get(f"{second.channel('kept')}/noarch/dependency-1.0-0.conda", timeout=10)
        assert blob.status_code == 200
        assert blob.content == package.read_bytes()
    finally:
        second.process.send_signal(signal.SIGINT)
        status = second.stop(timeout=10)
    assert status == 0, second.log_text()[-3000:]


def test_generated_admin_password_and_anonymous_reads(tmp_path: Path, binary: Path) -> None:
    server = SluiceServer(binary, tmp_path, admin_password="")  # empty counts as unset: a password is generated
    server.start()
    try:
        assert "Admin" in server.log_text(), server.log_text()
        # Reads are anonymous; management needs credentials.
        create = requests.post(
            f"{server.url}/api/management/feeds/create", json={"name": "nope", "feedType": "conda"}, timeout=10
        )
        assert create.status_code == 401, create.text
        wrong = requests.post(
            f"{server.url}/api/management/feeds/create", json={"name": "nope", "feedType": "conda"},
            auth=("Admin", "wrong"), timeout=10,
        )
        assert wrong.status_code == 401, wrong.text
        missing = requests.get(f"{server.url}/conda/nope/noarch/repodata.json", timeout=10)
        assert missing.status_code == 404
    finally:
        assert server.stop(timeout=10) == 0
