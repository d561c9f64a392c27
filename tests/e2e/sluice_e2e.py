"""Helpers for the end-to-end tests: start and stop the real `sluice` binary, run its CLI, read package metadata."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

import requests
import zstandard

REPO_ROOT = Path(__file__).resolve().parents[2]


def sluice_binary() -> Path:
    """The `sluice` executable under test: $SLUICE_BIN, else .build/debug/sluice."""
    path = Path(os.environ.get("SLUICE_BIN", REPO_ROOT / ".build" / "debug" / "sluice"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def fixtures_directory() -> Path:
    """The shared conda fixtures: $SLUICE_FIXTURES, else ../shared/fixtures next to the repository."""
    explicit = os.environ.get("SLUICE_FIXTURES")
    if explicit:
        return Path(explicit)
    return REPO_ROOT.parent / "shared" / "fixtures"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment(**extra: str) -> dict[str, str]:
    """The current environment without any SLUICE_* variable, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLUICE_")}
    env.update(extra)
    return env


class SluiceServer:
    """One `sluice serve` process on 127.0.0.1 with its own data directory."""

    def __init__(self, binary: Path, workdir: Path, admin_password: str, extra_args: list[str] | None = None):
        self.binary = binary
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.log_path = workdir / "sluice.log"
        self.admin_password = admin_password
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def channel(self, feed: str) -> str:
        return f"{self.url}/conda/{feed}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self, timeout: float = 60.0) -> None:
        """Starts the server on a free port and waits until `GET /health` answers 200."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # a port picked by free_port() can be taken in between; try another
            self.port = free_port()
            env = clean_environment(SLUICE_ADMIN_PASSWORD=self.admin_password)
            command = [
                str(self.binary), "serve",
                "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
                *self.extra_args,
            ]
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=self.workdir
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    last_error = f"sluice serve exited with {self.process.returncode}"
                    break
                try:
                    if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                        return
                except requests.RequestException as error:
                    last_error = str(error)
                time.sleep(0.1)
            else:
                self.kill()
                raise RuntimeError(f"sluice serve did not become healthy in {timeout}s:\n{self.log_text()[-4000:]}")
        raise RuntimeError(f"sluice serve did not start ({last_error}):\n{self.log_text()[-4000:]}")

    def stop(self, timeout: float = 10.0) -> int:
        """Sends SIGTERM and returns the exit status; kills the process and raises if it does not stop in time."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"sluice serve did not stop within {timeout}s of SIGTERM")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def admin(self) -> requests.Session:
        """A session that authenticates as Admin with HTTP Basic."""
        session = requests.Session()
        session.auth = ("Admin", self.admin_password)
        return session

    def cli(
        self, *args: str, check: bool = True, timeout: float = 120, env: dict[str, str] | None = None,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Runs `sluice ARGS...` against this server, with the credentials in the environment, plus `env`, and
        `stdin` as its standard input (none when not given)."""
        environment = clean_environment(
            SLUICE_URL=self.url, SLUICE_USER="Admin", SLUICE_PASSWORD=self.admin_password, **(env or {})
        )
        input_options = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
        result = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, env=environment, timeout=timeout,
            **input_options,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"sluice {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def cli_as(
        self, user: str, password: str, *args: str, check: bool = True, timeout: float = 120,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Runs `sluice ARGS...` against this server signed in as `user` (HTTP Basic from SLUICE_USER and
        SLUICE_PASSWORD) instead of Admin."""
        environment = clean_environment(SLUICE_URL=self.url, SLUICE_USER=user, SLUICE_PASSWORD=password)
        input_options = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
        result = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, env=environment, timeout=timeout,
            **input_options,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"sluice {' '.join(args)} (as {user}) exited {result.returncode}\nstdout:\n{result.stdout}\n"
                f"stderr:\n{result.stderr}"
            )
        return result

    def create_feed(self, name: str, description: str | None = None) -> None:
        body = {"name": name, "feedType": "conda"}
        if description is not None:
            body["description"] = description
        response = self.admin().post(f"{self.url}/api/management/feeds/create", json=body, timeout=30)
        assert response.status_code in (200, 201), (response.status_code, response.text)

    def upload(self, feed: str, path: Path, filename: str | None = None, overwrite: bool = False) -> requests.Response:
        """`PUT /api/packages/{feed}/upload/{filename}` with the file as the raw body."""
        url = f"{self.url}/api/packages/{feed}/upload/{filename or path.name}"
        with open(path, "rb") as body:
            return self.admin().put(url, data=body, params={"overwrite": "true"} if overwrite else None, timeout=120)


@dataclasses.dataclass(frozen=True)
class PackageFile:
    """A fixture package and what its own metadata says about it."""

    path: Path
    index: dict
    sha256: str
    md5: str
    size: int

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def subdir(self) -> str:
        return expected_subdir(self.index)

    @property
    def section(self) -> str:
        """The repodata section that lists this file."""
        return "packages.conda" if self.filename.endswith(".conda") else "packages"

    @staticmethod
    def load(path: Path) -> "PackageFile":
        data = path.read_bytes()
        return PackageFile(
            path=path,
            index=read_index_json(path),
            sha256=hashlib.sha256(data).hexdigest(),
            md5=hashlib.md5(data).hexdigest(),
            size=len(data),
        )


def expected_subdir(index: dict) -> str:
    """The subdir a package belongs in: `subdir` from index.json, else derived from platform and arch as conda does."""
    if index.get("subdir"):
        return index["subdir"]
    if index.get("noarch") or not index.get("platform"):
        return "noarch"
    arch = {"x86_64": "64", "x86": "32"}.get(index.get("arch") or "", index.get("arch") or "")
    return f"{index['platform']}-{arch}"


def read_index_json(path: Path) -> dict:
    """The `info/index.json` of a `.tar.bz2` or `.conda` package."""
    if path.name.endswith(".tar.bz2"):
        with tarfile.open(path, "r:bz2") as archive:
            member = archive.extractfile("info/index.json")
            assert member is not None
            return json.load(member)
    with zipfile.ZipFile(path) as archive:
        stem = path.name[: -len(".conda")]
        compressed = archive.read(f"info-{stem}.tar.zst")
    tar_bytes = zstandard.ZstdDecompressor().decompressobj().decompress(compressed)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as archive:
        member = archive.extractfile("info/index.json")
        assert member is not None
        return json.load(member)


def fixture_packages(fixtures: Path) -> list[Path]:
    """Every fixture package except edge-cases/ (those clash with the others by design)."""
    root = fixtures / "packages"
    return sorted(
        path for path in root.rglob("*")
        if path.is_file() and path.parent.name != "edge-cases"
        and (path.name.endswith(".conda") or path.name.endswith(".tar.bz2"))
    )


def zstd_decompress(data: bytes) -> bytes:
    """Decompresses a whole zstd stream (also frames without a content size)."""
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def dict_items(value) -> list[dict]:
    """Every dict inside a JSON value (depth first), for answers whose exact nesting does not matter."""
    found: list[dict] = []
    if isinstance(value, dict):
        found.append(value)
        for item in value.values():
            found.extend(dict_items(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(dict_items(item))
    return found
