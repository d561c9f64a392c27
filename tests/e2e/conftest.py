"""Fixtures of the end-to-end suite: one real `sluice serve` for the session, and a hosted feed holding every
fixture package (except edge-cases/), uploaded through the API and through `sluice packages upload`."""

from __future__ import annotations

import dataclasses
import secrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sluice_e2e import PackageFile, SluiceServer, fixture_packages, fixtures_directory, sluice_binary  # noqa: E402

HOSTED_FEED = "e2e_hosted"
# These folders are uploaded with the CLI; all others through the REST API.
CLI_UPLOADED_FOLDERS = {"quetz", "mamba"}


@pytest.fixture(scope="session")
def fixtures() -> Path:
    path = fixtures_directory()
    if not (path / "packages").is_dir():
        pytest.fail(f"conda fixtures not found at {path} (set SLUICE_FIXTURES)")
    return path


@pytest.fixture(scope="session")
def binary() -> Path:
    path = sluice_binary()
    if not path.is_file():
        pytest.fail(f"sluice binary not found at {path}: run `swift build --product sluice` or set SLUICE_BIN")
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, binary: Path):
    """The real `sluice serve` on a free port with a temporary data directory; stopped with SIGTERM at the end,
    which must make it exit 0 within 10 seconds."""
    instance = SluiceServer(binary, tmp_path_factory.mktemp("sluice"), admin_password=secrets.token_urlsafe(16))
    instance.start()
    yield instance
    status = instance.stop(timeout=10)
    assert status == 0, f"sluice serve exited {status} after SIGTERM:\n{instance.log_text()[-4000:]}"


@pytest.fixture
def start_sluice(tmp_path_factory: pytest.TempPathFactory, binary: Path):
    """A factory that starts further `sluice serve` instances for one test, each with its own port, data directory
    and Admin password. At the end of the test every instance still running is stopped with SIGTERM and must exit 0;
    a test may stop one earlier itself (`instance.stop()`)."""
    started: list[SluiceServer] = []

    def start(label: str = "sluice") -> SluiceServer:
        instance = SluiceServer(binary, tmp_path_factory.mktemp(label), admin_password=secrets.token_urlsafe(16))
        instance.start()
        started.append(instance)
        return instance

    yield start
    failures = []
    for instance in started:
        if instance.process is not None and instance.process.poll() is None:
            status = instance.stop(timeout=10)
            if status != 0:
                failures.append(f"{instance.url} exited {status} after SIGTERM:\n{instance.log_text()[-3000:]}")
    assert not failures, "\n".join(failures)


@dataclasses.dataclass
class HostedFeed:
    name: str
    files: list[PackageFile]
    upload_statuses: dict[str, int]
    cli_output: str

    def in_subdir(self, subdir: str) -> list[PackageFile]:
        return [package for package in self.files if package.subdir == subdir]

    @property
    def subdirs(self) -> set[str]:
        return {package.subdir for package in self.files}


@pytest.fixture(scope="session")
def hosted_feed(server: SluiceServer, fixtures: Path) -> HostedFeed:
    """A feed holding all fixture packages except edge-cases/."""
    server.create_feed(HOSTED_FEED, description="every fixture package")
    paths = fixture_packages(fixtures)
    files = [PackageFile.load(path) for path in paths]
    statuses: dict[str, int] = {}
    via_cli = [path for path in paths if path.parent.name in CLI_UPLOADED_FOLDERS]
    for path in paths:
        if path in via_cli:
            continue
        response = server.upload(HOSTED_FEED, path)
        statuses[str(path)] = response.status_code
        assert response.status_code in (200, 201), (path.name, response.status_code, response.text)
    result = server.cli("packages", "upload", "--feed", HOSTED_FEED, *map(str, via_cli))
    return HostedFeed(HOSTED_FEED, files, statuses, result.stdout)
