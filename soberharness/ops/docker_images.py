"""Local images for the compose stack's services that can be had here, built without a registry
on a private engine (ops/docker_engine.py), and the override file that maps the compose file's
image names to them (read by the containers target, targets/image_override.py).

The base is Debian bookworm from debootstrap (ops/docker_rootfs.py), imported and tagged
`debian:bookworm-slim`. On it:
    postgres  supabase/postgres's stand-in: Debian's PostgreSQL 15 with the stack's bootstrap
              applied at first start (ops/images/postgres/)
    gateway   the stack's own gateway Dockerfile, as is (stack/compose/nginx/)
    mailpit   the pinned Mailpit release from the Go module proxy (ops/images/mailpit/)
Every other compose image is in no registry here: the override file lists its service as
unavailable, with the reason, and the target leaves it out.

Each image is tagged by the hash of its build context (and the base's recipe), and kept in the
cache as a `docker save` tarball under that name, so a later run loads it instead of building.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from soberharness.config.composecheck import load_compose
from soberharness.config.envcheck import COMPOSE_FILE
from soberharness.errors import TargetUnavailable
from soberharness.ops import docker_rootfs
from soberharness.paths import REPO
from soberharness.targets.image_override import ImageOverride
from soberharness.targets.services.tools import find_tool, pinned_versions

IMAGES_DIR = Path(__file__).resolve().parent / "images"
LOCAL_REPO = "sober-local"
BUILD_TIMEOUT_S = 900

# Why a compose image has no local build here, by image repository (its name before the tag).
NOT_BUILT: Mapping[str, str] = {
    "supabase/gotrue": "GoTrue: the Go module proxy refuses github.com/supabase/auth",
    "postgrest/postgrest": "PostgREST: in no registry reachable here",
    "supabase/realtime": "Realtime: in no registry reachable here",
    "supabase/storage-api": "Storage API: in no registry reachable here",
    "darthsim/imgproxy": "imgproxy: the Go module proxy refuses github.com/imgproxy/imgproxy/v3",
    "supabase/edge-runtime": "edge runtime: in no registry reachable here",
    "minio/minio": "MinIO: only the Storage API uses it, and that is not built here",
    "minio/mc": "MinIO client: only the Storage API uses it, and that is not built here",
    "redis": "Redis: only the edge functions use it, and those are not built here",
}
NOT_BUILT_DEFAULT = "no local image is built for it here"


def _postgres(context: Path) -> str | None:
    _copy_tree(IMAGES_DIR / "postgres", context)
    _copy_tree(REPO / "stack" / "bootstrap", context / "bootstrap")
    return None


def _gateway(context: Path) -> str | None:
    _copy_tree(REPO / "stack" / "compose" / "nginx", context)  # compose's `build: ./nginx`
    return None


def _mailpit(context: Path) -> str | None:
    binary = find_tool("mailpit")
    if binary is None:
        return "Mailpit is not installed: run scripts/install-services.sh"
    _copy_tree(IMAGES_DIR / "mailpit", context)
    shutil.copy2(binary, context / "mailpit")
    return None


@dataclasses.dataclass(frozen=True)
class LocalImage:
    """One image built here: its short name and the compose image repository it stands for."""

    name: str
    stands_for: str
    context: Callable[[Path], str | None]  # fills a build folder; or says why it cannot
    version_key: str = ""  # scripts/versions.env key the compose tag must equal, if any


LOCAL_IMAGES: tuple[LocalImage, ...] = (
    LocalImage("postgres", "supabase/postgres", _postgres),
    LocalImage("gateway", "sobertube/gateway", _gateway),
    LocalImage("mailpit", "axllent/mailpit", _mailpit, version_key="MAILPIT_VERSION"),
)


def _copy_tree(source: Path, dest: Path) -> None:
    shutil.copytree(source, dest, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def repository(image: str) -> str:
    """'supabase/postgres:15.8.1.085' -> 'supabase/postgres' (a registry port kept)."""
    last = image.rsplit("/", 1)[-1]
    return image[: len(image) - len(last)] + last.split(":", 1)[0].split("@", 1)[0]


def context_key(context: Path, base_key: str) -> str:
    """The hash of every file's path, mode and bytes in `context`, and of the base's recipe."""
    digest = hashlib.sha256(base_key.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode() + b"\0")
        digest.update(oct(path.stat().st_mode & 0o777).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def compose_images(compose_file: Path = COMPOSE_FILE) -> dict[str, str]:
    """Compose service -> its image, as the compose file pins it."""
    services: Mapping[str, Any] = load_compose(compose_file)["services"]
    return {name: str(service["image"]) for name, service in services.items()
            if "image" in service}


def plan_override(built: Mapping[str, str], compose: Mapping[str, str],
                  why_not: Mapping[str, str]) -> ImageOverride:
    """The override for `compose` (service -> image) given the local builds (`built`: image
    repository -> local tag) and why the others are missing (`why_not`, by repository)."""
    images: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for service, image in sorted(compose.items()):
        repo = repository(image)
        if repo in built:
            images[image] = built[repo]
        else:
            unavailable[service] = why_not.get(repo) or NOT_BUILT.get(repo, NOT_BUILT_DEFAULT)
    return ImageOverride(images=images, unavailable=unavailable)


class ImageBuilder:
    """Builds (or loads from the cache) the local images on one engine's docker client."""

    def __init__(self, client: Any, work: Path, cache: Path | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.client = client  # docker.DockerClient
        self.work = work
        self.cache = cache or docker_rootfs.cache_dir()
        self.log = log or (lambda _line: None)

    def base(self) -> str:
        """Import the rootfs (made first when not cached) as debian:bookworm-slim; its key."""
        key = docker_rootfs.recipe_key()
        tag = f"{LOCAL_REPO}/debian:{key}"
        if not self._has(tag):
            if not docker_rootfs.cached(self.cache):
                self.log("making the base rootfs with debootstrap")
            tarball = docker_rootfs.rootfs_tarball(self.cache)
            self.log(f"importing the base image from {tarball.name}")
            self.client.api.import_image_from_file(str(tarball), repository=f"{LOCAL_REPO}/debian",
                                                   tag=key)
        repo, _, name = docker_rootfs.BASE_TAG.partition(":")
        self.client.api.tag(tag, repo, name)
        return key

    def build_all(self, images: Iterable[LocalImage] = LOCAL_IMAGES,
                  compose_file: Path = COMPOSE_FILE) -> ImageOverride:
        base_key = self.base()
        compose = compose_images(compose_file)
        tags = {repository(i): i.rsplit(":", 1)[-1] for i in compose.values()}
        versions = pinned_versions()
        built: dict[str, str] = {}
        why_not: dict[str, str] = {}
        for image in images:
            pinned = versions.get(image.version_key) if image.version_key else None
            if pinned is not None and tags.get(image.stands_for) != pinned:
                why_not[image.stands_for] = (f"{image.name}: compose pins "
                                             f"{tags.get(image.stands_for)}, scripts/versions.env "
                                             f"{pinned}")
                continue
            context = self.work / f"context-{image.name}"
            reason = image.context(context)
            if reason:
                why_not[image.stands_for] = reason
                continue
            built[image.stands_for] = self.ensure(image.name, context, base_key)
        return plan_override(built, compose, why_not)

    def ensure(self, name: str, context: Path, base_key: str) -> str:
        """The image `name` from `context`: present, loaded from the cache, or built (and then
        saved to the cache); its tag."""
        key = context_key(context, base_key)
        tag = f"{LOCAL_REPO}/{name}:{key}"
        if self._has(tag):
            return tag
        saved = self.cache / f"image-{name}-{key}.tar"
        if saved.exists():
            self.log(f"loading image {name} from the cache")
            with open(saved, "rb") as data:
                self.client.api.load_image(data)
            if self._has(tag):
                return tag
        self.log(f"building image {name}")
        self._build(context, tag, name)
        self.log(f"saving image {name} to the cache")
        self._save(tag, saved, name)
        self.log(f"image {name} saved")
        return tag

    def _has(self, tag: str) -> bool:
        import docker

        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    def _build(self, context: Path, tag: str, name: str) -> None:
        # No bridge on this engine: the build's apt-get reaches Debian over the host's network.
        last = ""
        for chunk in self.client.api.build(path=str(context), tag=tag, network_mode="host",
                                           rm=True, forcerm=True, pull=False, decode=True,
                                           timeout=BUILD_TIMEOUT_S):
            if "error" in chunk:
                detail = " ".join(str(chunk["error"]).split())
                raise TargetUnavailable(f"building image {name} failed: {detail[:300]}")
            text = str(chunk.get("stream", "")).strip()
            if text:
                last = text
        if not self._has(tag):
            raise TargetUnavailable(f"building image {name} made no image: {last[:200]}")

    def _save(self, tag: str, saved: Path, name: str) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        partial = saved.with_name(f".{saved.name}.{os.getpid()}")
        try:
            with open(partial, "wb") as out:
                for chunk in self.client.api.get_image(tag):
                    out.write(chunk)
            partial.replace(saved)
        finally:
            partial.unlink(missing_ok=True)
        for old in self.cache.glob(f"image-{name}-*.tar"):
            if old != saved:
                old.unlink(missing_ok=True)


def write_override(engine_address: str, work: Path, log: Callable[[str], None] | None = None,
                   cache: Path | None = None) -> Path:
    """Build or load the local images on the engine at `engine_address` and write the override
    file mapping the compose file's images to them into `work`; its path (for
    $SOBERHARNESS_CONTAINERS_OVERRIDE)."""
    import docker

    client = docker.DockerClient(base_url=engine_address, timeout=BUILD_TIMEOUT_S)
    try:
        override = ImageBuilder(client, work, cache, log).build_all()
    finally:
        client.close()
    path = work / "image-override.toml"
    path.write_text(override.to_toml())
    return path
