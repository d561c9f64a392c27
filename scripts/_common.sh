# Shared helpers of scripts/run, scripts/test and scripts/bench. Source it; it does nothing on its own.

# The repository root.
SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Puts swift on PATH (it is preinstalled at /opt/swift on our machines) or fails with a hint.
ensure_swift() {
    if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    fi
    if ! command -v swift >/dev/null 2>&1; then
        echo "swift not found: install Swift 6.2 or newer (https://swift.org/install) and put it on PATH" >&2
        exit 1
    fi
}

_apt_updated=0
# Installs the named Debian packages that are not installed yet (apt-get update at most once per run).
ensure_apt_packages() {
    local missing=()
    local package
    for package in "$@"; do
        # The status is read into a variable first: `dpkg-query | grep -q` under pipefail can fail when grep stops
        # reading early, and would report an installed package as missing.
        local package_status
        package_status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
        if [ "$package_status" != "install ok installed" ]; then
            missing+=("$package")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "Installing Debian packages: ${missing[*]}"
    if [ "$_apt_updated" -eq 0 ]; then
        as_root apt-get update -qq
        _apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The C libraries the package links (libzstd, libbz2, zlib).
ensure_build_dependencies() {
    ensure_apt_packages libzstd-dev libbz2-dev zlib1g-dev
}

# The headless browser of the web UI test (tests/browser): Debian's Chromium and its chromedriver.
ensure_browser_dependencies() {
    ensure_apt_packages chromium chromium-driver
}

# The Python environment of the end-to-end tests and the benchmark: .venv with py-rattler, pytest, requests,
# zstandard (to check .zst repodata) and selenium (drives Chromium in the web UI test).
SLUICE_VENV="$SLUICE_ROOT/.venv"
ensure_python_venv() {
    local python="$SLUICE_VENV/bin/python"
    if [ -x "$python" ] && "$python" - <<'PY' 2>/dev/null
import importlib.metadata as m
assert m.version("py-rattler") == "0.28.0"
import pytest, requests, zstandard, rattler, selenium  # noqa: F401
PY
    then
        return 0
    fi
    if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
        ensure_apt_packages python3-venv
    fi
    log "Creating the Python environment in .venv"
    python3 -m venv "$SLUICE_VENV"
    "$SLUICE_VENV/bin/pip" install --quiet --disable-pip-version-check \
        "py-rattler==0.28.0" pytest requests zstandard selenium
}
