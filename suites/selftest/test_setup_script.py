"""scripts/setup.sh on a busy machine and as an ordinary user (issue 22, items 11-13), run on a
copy of the scripts in a throwaway folder: apt-get, go and the tools setup looks for are
stand-ins on PATH there (the harness's own setup script is under test, no Supabase service).

- apt's lock held by another process: setup waits for it (bounded, saying so), then goes on;
- an ordinary user without sudo: what is present is skipped, only what is missing fails,
  named;
- the Go module proxy's refusal of GoTrue is remembered: the next run does not ask again and
  says how to offer GoTrue instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from soberharness.targets.services.tools import REPO_ROOT, pinned_versions

SYSTEM_COMMANDS = ("bash", "env", "id", "python3", "sha256sum", "cut", "cat", "dirname",
                   "basename", "mkdir", "rm", "tail", "tr", "date", "mktemp", "chmod", "grep",
                   "sleep", "timeout", "head", "sed", "mv", "ln", "ls")
TOOLS = {  # tool -> (versions.env key, executable in .tools/bin)
    "mailpit": ("MAILPIT_VERSION", "mailpit"),
    "toxiproxy": ("TOXIPROXY_VERSION", "toxiproxy-server"),
    "deno": ("DENO_NPM_VERSION", "deno"),
    "actionlint": ("ACTIONLINT_VERSION", "actionlint"),
    "gotrue": ("GOTRUE_VERSION", "gotrue"),
    "versitygw": ("VERSITYGW_VERSION", "versitygw"),
}
LOCKED = "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)"
FAKE_APT = f"""#!/bin/bash
echo "$*" >> "$APT_LOG"
if [ -e "$APT_LOCK" ]; then echo "{LOCKED}" >&2; exit 100; fi
case " $* " in
  *" install "*pgbackrest*) printf '#!/bin/sh\\necho pgBackRest 2.45\\n' > "$SHIMS/pgbackrest"
                          chmod +x "$SHIMS/pgbackrest" ;;
esac
exit 0
"""
REFUSING_GO = """#!/bin/bash
echo "$*" >> "$GO_LOG"
echo "go: $3: reading https://proxy.golang.org/$3.info: 403 Forbidden" >&2
exit 1
"""


def _script(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def root() -> Iterator[Path]:
    """A folder an ordinary user can reach (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="setup-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fake_repo(root: Path, with_tools: tuple[str, ...] = tuple(TOOLS)) -> Path:
    """A checkout whose Python packages and tools are all in place."""
    repo = root / "repo"
    shutil.copytree(REPO_ROOT / "scripts", repo / "scripts")
    pyproject = repo / "pyproject.toml"
    pyproject.write_text("[project]\nname = 'x'\n")
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").symlink_to(_system_command("python3"))
    (repo / ".venv" / ".soberharness-installed").write_text(
        hashlib.sha256(pyproject.read_bytes()).hexdigest() + "\n")
    versions = pinned_versions()
    for tool in with_tools:
        key, executable = TOOLS[tool]
        _script(repo / ".tools" / "bin" / executable, "#!/bin/sh\necho 1\n")
        (repo / ".tools" / "stamps").mkdir(parents=True, exist_ok=True)
        (repo / ".tools" / "stamps" / tool).write_text(versions[key] + "\n")
    _script(repo / ".tools" / "nginx" / "usr" / "sbin" / "nginx", "#!/bin/sh\necho nginx 1.22\n")
    _script(repo / ".tools" / "prometheus" / "usr" / "bin" / "promtool",
            "#!/bin/sh\necho promtool 2.42\n")
    for folder, program in (("postgres-exporter", "prometheus-postgres-exporter"),
                            ("nginx-exporter", "prometheus-nginx-exporter"),
                            ("mtail", "mtail")):
        _script(repo / ".tools" / folder / "usr" / "bin" / program, f"#!/bin/sh\necho {program}\n")
    module = repo / ".tools" / "nginx-modsecurity" / "usr" / "lib" / "nginx" / "modules"
    module.mkdir(parents=True)
    (module / "ngx_http_modsecurity_module.so").write_bytes(b"")
    return repo


def _system_command(name: str) -> str:
    """The system's own (an ordinary user can run it; not a pyenv shim in root's home)."""
    found = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
    assert found, f"{name} is not installed"
    return found


def _path(root: Path, present: tuple[str, ...] = ("docker-compose", "pgbackrest",
                                                  "prometheus-alertmanager", "chromium",
                                                  "dockerd", "debootstrap")) -> str:
    """PATH of stand-ins and of the system commands the scripts use, nothing else (no sudo,
    no real apt-get, go, npm, docker-compose, pgbackrest or chromium)."""
    shims, system = root / "shims", root / "system"
    system.mkdir(exist_ok=True)
    for name in SYSTEM_COMMANDS:
        if not (system / name).exists():
            (system / name).symlink_to(_system_command(name))
    for name in present:
        _script(shims / name, f"#!/bin/sh\necho {name} 1.0\n")
    shims.mkdir(exist_ok=True)
    return f"{shims}:{system}"


def _run(argv: list[str], env: dict[str, str], as_user: bool = False,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if as_user:
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _env(root: Path, path: str, **extra: str) -> dict[str, str]:
    return {"PATH": path, "HOME": str(root), "LANG": "C.UTF-8", "SHIMS": str(root / "shims"),
            "GO": str(root / "no-go"), "NPM": str(root / "no-npm"), **extra}


def _give_to_nobody(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in (folder, *(os.path.join(folder, n) for n in dirs + files)):
            os.lchown(name, 65534, 65534)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as an ordinary user")
def test_an_ordinary_user_with_everything_installed_gets_through(root: Path) -> None:
    repo = _fake_repo(root)
    env = _env(root, _path(root))
    _give_to_nobody(root)
    done = _run(["bash", str(repo / "scripts" / "setup.sh")], env, as_user=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[setup] done" in done.stdout
    assert "pgbackrest present" in done.stdout and "cannot run apt-get" not in done.stdout
    for tool in ("alertmanager", "prometheus-postgres-exporter", "prometheus-nginx-exporter"):
        assert f"{tool} present" in done.stdout, done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as an ordinary user")
def test_an_ordinary_user_missing_a_tool_is_told_which(root: Path) -> None:
    repo = _fake_repo(root)
    env = _env(root, _path(root, present=("docker-compose", "chromium")))
    (root / "shims" / "apt-get").symlink_to("/bin/false")  # apt-get exists, root does not
    _give_to_nobody(root)
    done = _run(["bash", str(repo / "scripts" / "setup.sh")], env, as_user=True)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, done.stderr
    assert "pgbackrest is missing" in errors[0] and "needs root" in errors[0]
    assert "docker-compose present" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as an ordinary user")
@pytest.mark.parametrize("ci", ["", "true"])
def test_in_ci_a_tool_a_registry_serves_must_be_installed(root: Path, ci: str) -> None:
    """Outside CI a tool the proxy refuses is skipped (its tests skip naming it); in CI the
    setup fails, so that no test needing it skips there."""
    repo = _fake_repo(root, with_tools=tuple(t for t in TOOLS if t != "versitygw"))
    _script(root / "go", REFUSING_GO)
    env = _env(root, _path(root), GO=str(root / "go"), GO_LOG=str(root / "go.log"), CI=ci)
    _give_to_nobody(root)
    done = _run(["bash", str(repo / "scripts" / "setup.sh")], env, as_user=True)
    if not ci:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "[setup] done" in done.stdout
        return
    assert done.returncode != 0, done.stdout + done.stderr
    assert "[setup] done" not in done.stdout
    assert "versitygw" in done.stdout + done.stderr


def _apt_env(root: Path, lock_timeout: str) -> dict[str, str]:
    env = _env(root, _path(root, present=("docker-compose", "prometheus-alertmanager",
                                         "chromium", "dockerd", "debootstrap")),
               APT_LOG=str(root / "apt.log"),
               APT_LOCK=str(root / "lock"), SOBERHARNESS_APT_LOCK_TIMEOUT=lock_timeout)
    _script(root / "shims" / "apt-get", FAKE_APT)
    (root / "lock").write_text("held by another apt")
    return env


@pytest.mark.skipif(os.geteuid() != 0, reason="installing runs apt-get as root")
def test_setup_waits_for_apts_lock_then_goes_on(root: Path) -> None:
    repo = _fake_repo(root)
    env = _apt_env(root, "60")
    release = threading.Timer(4, (root / "lock").unlink)
    release.start()
    began = time.monotonic()
    try:
        done = _run(["bash", str(repo / "scripts" / "setup-ci-extras.sh")], env)
    finally:
        release.cancel()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    waits = [line for line in output.splitlines() if "holds its lock" in line]
    assert len(waits) == 1 and "up to 60 s" in waits[0], output
    assert "pgbackrest installed: pgBackRest 2.45" in output
    calls = (root / "apt.log").read_text().splitlines()
    assert all("DPkg::Lock::Timeout=60" in call for call in calls), calls
    assert any("install" in call and "pgbackrest" in call for call in calls), calls
    assert time.monotonic() - began >= 4


@pytest.mark.skipif(os.geteuid() != 0, reason="installing runs apt-get as root")
def test_a_lock_that_is_never_released_fails_within_the_bound(root: Path) -> None:
    repo = _fake_repo(root)
    env = _apt_env(root, "4")
    began = time.monotonic()
    done = _run(["bash", str(repo / "scripts" / "setup-ci-extras.sh")], env)
    assert done.returncode != 0
    assert time.monotonic() - began < 30
    errors = [line for line in done.stderr.splitlines() if "still locked" in line]
    assert len(errors) == 1 and "/var/lib/apt/lists/lock" in errors[0], done.stderr


def test_the_proxys_refusal_of_gotrue_is_remembered(root: Path) -> None:
    repo = _fake_repo(root, with_tools=("mailpit", "toxiproxy", "deno", "actionlint",
                                        "versitygw"))
    _script(root / "go", REFUSING_GO)
    env = _env(root, _path(root), GO=str(root / "go"), GO_LOG=str(root / "go.log"))
    script = ["bash", str(repo / "scripts" / "install-services.sh")]
    first, second = _run(script, env), _run(script, env)
    assert first.returncode == 0 and second.returncode == 0, first.stdout + second.stdout
    assert len((root / "go.log").read_text().splitlines()) == 1, "asked the proxy again"
    assert "refuses github.com/supabase/auth@" in first.stdout
    offer = "set SOBER_GOTRUE_BIN=/path/to/gotrue"
    assert sum(offer in line for line in first.stdout.splitlines()) == 1, first.stdout
    gotrue = [line for line in second.stdout.splitlines() if "gotrue" in line]
    assert len(gotrue) == 1, second.stdout
    assert "not asked again" in gotrue[0] and offer in gotrue[0] and "--target" in gotrue[0]
    assert (repo / ".tools" / "stamps" / "gotrue.skipped").exists()

    third = _run(script, env | {"SOBER_GOTRUE_BIN": str(root / "shims" / "pgbackrest")})
    assert "gotrue: using SOBER_GOTRUE_BIN=" in third.stdout, third.stdout
