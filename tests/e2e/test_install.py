"""A real conda client (py-rattler) fetches repodata from Sluice, solves, downloads and installs into a prefix."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from rattler import Channel, Client, Gateway, SourceConfig, Subdir, install, solve

from sluice_e2e import SluiceServer


def _gateway(cache: Path) -> Gateway:
    return Gateway(
        cache_dir=cache,
        client=Client.default_client(),
        default_config=SourceConfig(sharded_enabled=True, zstd_enabled=True, bz2_enabled=True),
    )


def _solve_and_install(channel_url: str, specs: list[str], platform: str, workdir: Path) -> tuple[list, Path]:
    cache = workdir / "cache"
    prefix = workdir / "prefix"

    async def run():
        records = await solve(
            [Channel(channel_url)], specs, gateway=_gateway(cache),
            platforms=[Subdir(platform), Subdir("noarch")], virtual_packages=[],
        )
        await install(records, target_prefix=prefix, cache_dir=cache / "pkgs", client=Client.default_client(),
                      show_progress=False)
        return records

    return asyncio.run(run()), prefix


def _assert_installed(prefix: Path, records: list) -> int:
    """Every record has its conda-meta entry with the served sha256, and every file it lists is in the prefix.
    Returns how many files they installed."""
    files = 0
    for record in records:
        meta = prefix / "conda-meta" / f"{record.name.normalized}-{record.version}-{record.build}.json"
        assert meta.is_file(), f"missing {meta}"
        installed = json.loads(meta.read_text())
        assert installed["sha256"] == record.sha256.hex()
        assert installed["url"] == record.url
        for relative in installed.get("files", []):
            path = prefix / relative
            assert path.exists() or path.is_symlink(), f"{record.name.normalized}: {relative} not installed"
            files += 1
    return files


def _by_name(records: list) -> dict[str, str]:
    return {record.name.normalized: str(record.version) for record in records}


def test_solve_and_install_noarch_chain(server: SluiceServer, hosted_feed, tmp_path: Path) -> None:
    channel_url = f"{server.channel(hosted_feed.name)}/"
    records, prefix = _solve_and_install(channel_url, ["another_dependent"], "linux-64", tmp_path)
    # another_dependent 2.0 -> dependent 2.0 -> dependency >=2.0,<3.0a0
    assert _by_name(records) == {"another_dependent": "2.0", "dependent": "2.0", "dependency": "2.0"}
    for record in records:
        assert record.url.startswith(channel_url), record.url
        assert record.channel is not None
    _assert_installed(prefix, records)
    installed = {path.name for path in (prefix / "conda-meta").glob("*.json")}
    assert installed >= {"another_dependent-2.0-0.json", "dependent-2.0-0.json", "dependency-2.0-0.json"}


def test_solve_and_install_pinned_versions(server: SluiceServer, hosted_feed, tmp_path: Path) -> None:
    channel_url = f"{server.channel(hosted_feed.name)}/"
    records, prefix = _solve_and_install(
        channel_url, ["another_dependent ==1.0", "dependent ==1.0", "dummy-a", "package4 ==0.1.0"], "linux-64", tmp_path
    )
    assert _by_name(records) == {
        "another_dependent": "1.0", "dependent": "1.0",
        "dependency": "1.0",  # dependent 1.0 needs dependency >=1.0,<2.0a0 although 2.0 exists
        "dummy-a": "0.1.0", "dummy-c": "0.1.0",  # linux-64 dependency
        "package4": "0.1.0", "package3": "0.1.0",  # exact pin, although package3 0.3.0 exists
    }
    subdirs = {record.name.normalized: record.subdir for record in records}
    assert subdirs["dummy-a"] == subdirs["package3"] == "linux-64"
    assert subdirs["dependency"] == "noarch"
    assert _assert_installed(prefix, records) > 0, "the pixi packages install files"


def test_unsatisfiable_is_reported_by_the_solver(server: SluiceServer, hosted_feed, tmp_path: Path) -> None:
    channel_url = f"{server.channel(hosted_feed.name)}/"
    try:
        _solve_and_install(channel_url, ["unsatisfiable"], "linux-64", tmp_path)
    except Exception as error:  # rattler raises its SolverError
        assert "versioned" in str(error) or "unsatisfiable" in str(error), error
    else:
        raise AssertionError("unsatisfiable (needs versioned <1.0) must not solve")
