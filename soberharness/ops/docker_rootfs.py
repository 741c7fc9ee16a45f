"""The base image of every locally built image, without a registry: Debian bookworm made by
`debootstrap --variant=minbase`, trimmed as Debian's slim images are (no apt lists or package
cache, no docs, man pages or translations installed later, no services started by packages),
packed as a tarball for `docker import` and kept in the cache, named by its recipe."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from soberharness.errors import TargetUnavailable
from soberharness.paths import REPO
from soberharness.targets import workdirs

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEBOOTSTRAP_TIMEOUT_S = 600.0
# What the base image tags itself as: the gateway's Dockerfile says FROM debian:bookworm-slim.
BASE_TAG = "debian:bookworm-slim"

# Files written into the rootfs after debootstrap (path inside -> content, mode).
TRIM: dict[str, tuple[str, int]] = {
    "usr/sbin/policy-rc.d": ("#!/bin/sh\n# no package starts a service in an image build\n"
                             "exit 101\n", 0o755),
    "etc/dpkg/dpkg.cfg.d/sober-slim": (
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n"
        "path-exclude /usr/share/info/*\n", 0o644),
    # as Debian's own images: point-release updates and security fixes too
    "etc/apt/sources.list": (
        f"deb {MIRROR} {SUITE} main\ndeb {MIRROR} {SUITE}-updates main\n"
        f"deb {SECURITY_MIRROR} {SUITE}-security main\n", 0o644),
    "etc/apt/apt.conf.d/sober-slim": (
        'APT::Install-Recommends "false";\nAcquire::Languages "none";\n', 0o644),
}
EMPTIED = ("var/cache/apt/archives", "var/lib/apt/lists")


def cache_dir() -> Path:
    """$SOBERHARNESS_DOCKER_CACHE, else .tools/docker-cache in the repository."""
    given = os.environ.get("SOBERHARNESS_DOCKER_CACHE")
    return Path(given) if given else REPO / ".tools" / "docker-cache"


def recipe_key() -> str:
    """Names the rootfs by how it is made: a change to the recipe makes a new one."""
    recipe = repr((SUITE, MIRROR, "minbase", sorted(TRIM.items()), EMPTIED))
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def cached(cache: Path | None = None) -> Path | None:
    """The cached rootfs tarball of this recipe, if there is one."""
    tarball = (cache or cache_dir()) / f"rootfs-{SUITE}-minbase-{recipe_key()}.tar"
    return tarball if tarball.exists() else None


def rootfs_tarball(cache: Path | None = None) -> Path:
    """The cached rootfs tarball, made first when missing (about 30 s, root needed)."""
    cache = cache or cache_dir()
    tarball = cache / f"rootfs-{SUITE}-minbase-{recipe_key()}.tar"
    if tarball.exists():
        return tarball
    if shutil.which("debootstrap") is None:
        raise TargetUnavailable("debootstrap is not installed: run scripts/setup.sh "
                                "(it installs Debian's debootstrap)")
    cache.mkdir(parents=True, exist_ok=True)
    work = workdirs.make_workdir()
    root = work / "rootfs"
    partial = cache / f".{tarball.name}.{os.getpid()}"
    try:
        run_step(["debootstrap", "--variant=minbase", SUITE, str(root), MIRROR], "debootstrap")
        trim(root)
        run_step(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], "tar")
        partial.replace(tarball)  # whole or absent, whoever else makes it meanwhile
    finally:
        partial.unlink(missing_ok=True)
        workdirs.remove_workdir(work)  # unmounts what a stopped debootstrap left mounted
    for old in cache.glob(f"rootfs-{SUITE}-minbase-*.tar"):
        if old != tarball:
            old.unlink(missing_ok=True)
    return tarball


def trim(root: Path) -> None:
    """Debian's slim trimming on a fresh rootfs (see TRIM, EMPTIED)."""
    for inside, (text, mode) in TRIM.items():
        path = root / inside
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    for inside in EMPTIED:
        for entry in (root / inside).glob("*"):
            if entry.is_file():
                entry.unlink()


def run_step(argv: list[str], what: str) -> None:
    """Run one step of making the rootfs in its own process group (a timeout or Ctrl-C ends
    the whole group: debootstrap's chrooted dpkg and downloads too); TargetUnavailable with its
    last line if it fails."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=DEBOOTSTRAP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise TargetUnavailable(f"{what} took more than {DEBOOTSTRAP_TIMEOUT_S:.0f}s") from None
    except BaseException:
        _kill_group(proc)
        raise
    result = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise TargetUnavailable(f"{what} failed ({result.returncode}): "
                                f"{lines[-1] if lines else 'no output'}")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=10)
