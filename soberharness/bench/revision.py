"""The stack at a baseline revision: which git ref, and its `stack/` folder on disk.

The default regression gate compares the stack under test with the stack of a baseline
revision, both measured in the same run on the same server. The ref is, in order:
1. `SOBERHARNESS_BASELINE_REF` (or the suite's `--baseline-ref`), when set;
2. the newest tag reachable from HEAD (the last release);
3. the merge base with the branch HEAD tracks, when HEAD is ahead of it;
4. HEAD itself: the committed stack against the working tree's (an A/A run when the tree is
   clean, which still proves the gate does not cry wolf on this machine).
Outside a git checkout (an unpacked archive) the suite falls back to the working tree's stack
on both sides and says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

from soberharness.errors import HarnessError

GIT_TIMEOUT = 30.0
STACK_PARTS = ("stack/bootstrap", "stack/migrations")


@dataclasses.dataclass(frozen=True)
class BaselineRef:
    ref: str  # what the user or the rule named
    commit: str  # the commit it resolves to
    why: str  # which rule chose it, for the report

    def label(self) -> str:
        return f"{self.ref} ({self.commit[:10]}, {self.why})"


def _git(repo: Path, *args: str) -> str | None:
    """Output of a git command, or None when git is missing or the command fails."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def has_history(repo: Path) -> bool:
    """Whether `repo` is a git checkout with at least one commit (git installed)."""
    return _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") is not None


def resolve(repo: Path, explicit: str | None = None) -> BaselineRef:
    """The baseline revision by the rules of this module's docstring."""
    wanted = explicit or os.environ.get("SOBERHARNESS_BASELINE_REF") or None
    if wanted:
        commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}")
        if not commit:
            raise HarnessError(f"baseline ref '{wanted}' is not a commit of {repo} "
                               "(SOBERHARNESS_BASELINE_REF / --baseline-ref)")
        return BaselineRef(wanted, commit, "named")
    head = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if not head:
        raise HarnessError(f"{repo} is not a git checkout with a commit: name a baseline with "
                           "SOBERHARNESS_BASELINE_REF, or run from a clone")
    tag = _git(repo, "describe", "--tags", "--abbrev=0")
    if tag:
        commit = _git(repo, "rev-parse", f"{tag}^{{commit}}")
        if commit:
            return BaselineRef(tag, commit, "last tag")
    upstream = _git(repo, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    if upstream:
        base = _git(repo, "merge-base", "HEAD", upstream)
        if base and base != head:
            return BaselineRef(f"merge-base with {upstream}", base, "merge base")
    return BaselineRef("HEAD", head, "last commit")


def export_stack(repo: Path, commit: str, dest: Path) -> Path:
    """Write `stack/bootstrap` and `stack/migrations` of `commit` under dest; return
    dest/stack."""
    try:
        done = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit,
                               *STACK_PARTS], capture_output=True, timeout=GIT_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessError(f"git archive of {commit[:10]} failed: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise HarnessError(f"git archive of {commit[:10]} failed: "
                           f"{message[-1] if message else 'exit ' + str(done.returncode)}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(dest, filter="data")
    return dest / "stack"


def stack_digest(*folders: Path) -> str:
    """A digest of the files under `folders` (their relative names and bytes, in order)."""
    h = hashlib.sha256()
    for n, root in enumerate(folders):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(f"{n}:{path.relative_to(root)}".encode() + b"\0" + path.read_bytes())
    return h.hexdigest()
