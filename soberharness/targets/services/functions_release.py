"""The edge functions deployed by version (seed 4.1.3): a release is a functions folder with a
manifest (`manifest.json`) naming each part's version and the SHA-256 of its files; a deployment
serves one release at a time and rolls back to an earlier one.

Parts are the folders of the release: each function (a folder with `index.ts`), the main
service (`main`) and the shared code (`_shared`). A part's hash covers every file under its
folder, by relative path and content, so any change to a function changes its hash; the
manifest must then give it a new version (`verify` names the part whose files do not match).

Refresh the hashes after a change (with the version bumped by hand):
    .venv/bin/python -m soberharness.targets.services.functions_release stack/functions
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
import sys
from pathlib import Path

import httpx

from soberharness.errors import Exit, HarnessError, OneLineParser
from soberharness.targets.services.edge_functions import (
    STACK_FUNCTIONS,
    FunctionsLimits,
    start_functions,
)
from soberharness.targets.services.process import ManagedProcess

MANIFEST = "manifest.json"
SKIPPED = frozenset({"__pycache__", "node_modules"})


@dataclasses.dataclass(frozen=True)
class PartVersion:
    version: str
    sha256: str


def parts(folder: Path) -> list[str]:
    """The release's parts: every folder directly under it, except caches."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in SKIPPED)


def part_hash(folder: Path) -> str:
    """SHA-256 over the part's files: relative path and bytes of each, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if SKIPPED.intersection(path.relative_to(folder).parts):
            continue
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def load_manifest(folder: Path) -> dict[str, PartVersion]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
        return {name: PartVersion(str(v["version"]), str(v["sha256"]))
                for name, v in data["parts"].items()}
    except FileNotFoundError:
        raise HarnessError(f"{path}: no functions manifest") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HarnessError(f"{path}: not a functions manifest ({exc})") from None


def verify(folder: Path) -> list[str]:
    """What does not match between the manifest and the files, one line per part."""
    manifest = load_manifest(folder)
    present = parts(folder)
    problems = [f"{name}: in the folder, not in the manifest"
                for name in present if name not in manifest]
    for name, entry in sorted(manifest.items()):
        if name not in present:
            problems.append(f"{name}: in the manifest (version {entry.version}), not in the folder")
        elif part_hash(folder / name) != entry.sha256:
            problems.append(f"{name}: its files do not match version {entry.version}'s hash")
    return problems


def write_manifest(folder: Path, versions: dict[str, str]) -> None:
    """(Re)write the manifest: the given versions (else the present ones) and fresh hashes."""
    path = folder / MANIFEST
    old = load_manifest(folder) if path.exists() else {}
    entries = {}
    for name in parts(folder):
        version = versions.get(name) or (old[name].version if name in old else None)
        if version is None:
            raise HarnessError(f"{name}: no version given for a new part")
        entries[name] = {"version": version, "sha256": part_hash(folder / name)}
    path.write_text(json.dumps({"parts": entries}, indent=2) + "\n")


def release_with_change(dst: Path, part: str, old: str, new: str, version: str,
                        src: Path = STACK_FUNCTIONS) -> Path:
    """A new release in `dst`: `src` with `old` replaced by `new` in `part`'s index.ts and that
    part at `version` (its hash refreshed): how a changed function is released."""
    if dst.exists():
        raise HarnessError(f"{dst}: a release folder exists already")
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*SKIPPED))
    path = dst / part / "index.ts"
    text = path.read_text()
    if old not in text:
        raise HarnessError(f"{part}/index.ts holds no {old!r} to change")
    path.write_text(text.replace(old, new))
    write_manifest(dst, {part: version})
    return dst


class FunctionsDeployment:
    """Serves one verified release at a time (a copy under `workdir/releases/<n>`): deploy()
    replaces the running main service by one serving the new release; rollback() serves the
    release before it again."""

    def __init__(self, workdir: Path, database_url: str, jwt_secret: str,
                 limits: FunctionsLimits | None = None) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.jwt_secret = jwt_secret
        self.limits = limits or FunctionsLimits()
        self.history: list[Path] = []  # deployed releases, oldest first
        self.process: ManagedProcess | None = None
        self.url = ""

    def deploy(self, release: Path) -> dict[str, str]:
        """Serve `release` (refused when its files do not match its manifest); its versions."""
        problems = verify(release)
        if problems:
            raise HarnessError(f"release {release} refused: " + "; ".join(problems))
        copy = self.workdir / "releases" / str(len(self.history) + 1)
        shutil.copytree(release, copy, ignore=shutil.ignore_patterns(*SKIPPED))
        self._serve(copy)
        self.history.append(copy)
        return self.versions()

    def rollback(self) -> dict[str, str]:
        """Serve the release deployed before the current one again; its versions."""
        if len(self.history) < 2:
            raise HarnessError("nothing to roll back to: one release deployed or none")
        self.history.pop()
        self._serve(self.history[-1])
        return self.versions()

    def versions(self) -> dict[str, str]:
        """The versions the running main service reports (GET /versions)."""
        answer = httpx.get(f"{self.url}/versions", timeout=5.0)
        answer.raise_for_status()
        return {str(k): str(v) for k, v in answer.json()["versions"].items()}

    def _serve(self, folder: Path) -> None:
        self.stop()
        self.process, self.url = start_functions(
            self.workdir / "run", self.database_url, self.jwt_secret, functions_dir=folder,
            limits=self.limits, name=f"functions-{folder.name}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


def _version_pair(text: str) -> tuple[str, str]:
    part, sep, version = text.partition("=")
    if not sep or not part or not version:
        raise argparse.ArgumentTypeError(f"{text!r} is not PART=VERSION")
    return part, version


def main(argv: list[str]) -> int:
    parser = OneLineParser(prog="python -m soberharness.targets.services.functions_release",
                           description="Refresh the functions' manifest: each part's version "
                                       "and the SHA-256 of its files.")
    parser.add_argument("folder", type=Path, help="the functions folder (stack/functions)")
    parser.add_argument("--set", dest="versions", type=_version_pair, action="append",
                        default=[], metavar="PART=VERSION",
                        help="give a part a new version (repeatable)")
    args = parser.parse_args(argv)
    if not (args.folder / MANIFEST).is_file():
        print(f"error: {args.folder} holds no {MANIFEST}", file=sys.stderr)
        return Exit.BAD_INPUT
    try:
        write_manifest(args.folder, dict(args.versions))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.BAD_INPUT
    except OSError as exc:
        print(f"error: cannot write {args.folder / MANIFEST}: {exc.strerror or exc}",
              file=sys.stderr)
        return Exit.BAD_INPUT
    return Exit.OK


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
