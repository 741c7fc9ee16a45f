"""An OpenID Connect provider on 127.0.0.1 that the harness starts for the OAuth flow tests.

A stand-in for an external identity provider (Google, Keycloak, ...), never for a stack
service: GoTrue, the system under test, runs its real OAuth code against it. Built on the
maintained `oidc-provider-mock` package (Authlib and Flask): authorization-code flow with a
consent form that takes the subject, token endpoint, userinfo, JWKS, and `PUT /users/<sub>`
to set a subject's claims.

GoTrue reaches a generic OpenID provider through its Keycloak provider, whose endpoints hang
under one URL (GOTRUE_EXTERNAL_KEYCLOAK_URL): `<url>/protocol/openid-connect/auth`, `/token`
and `/userinfo`. The small WSGI adapter here maps those paths onto the library's
`/oauth2/authorize`, `/oauth2/token` and `/userinfo`, so `url` is what that setting names.
"""

from __future__ import annotations

import contextlib
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

from soberharness.errors import TargetUnavailable

HOST = "127.0.0.1"
REALM_PATH = "/realms/sobertube"
KEYCLOAK_PATHS = {
    "/protocol/openid-connect/auth": "/oauth2/authorize",
    "/protocol/openid-connect/token": "/oauth2/token",
    "/protocol/openid-connect/userinfo": "/userinfo",
}
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def keycloak_paths(app: WSGIApp, realm_path: str = REALM_PATH) -> WSGIApp:
    """WSGI middleware: Keycloak's endpoint paths under `realm_path` onto the library's."""

    def adapted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(realm_path):
            rest = path[len(realm_path):]
            environ = {**environ, "PATH_INFO": KEYCLOAK_PATHS.get(rest, rest or "/")}
        return app(environ, start_response)

    return adapted


class OpenIDProvider:
    """The provider, serving on a thread of this process: `with OpenIDProvider(port) as p:`."""

    def __init__(self, port: int = 0, realm_path: str = REALM_PATH, timeout: float = 10.0) -> None:
        self.port = port
        self.realm_path = realm_path
        self.timeout = timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._env_before: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """What GOTRUE_EXTERNAL_KEYCLOAK_URL names."""
        return self.base_url + self.realm_path

    def start(self) -> OpenIDProvider:
        import oidc_provider_mock
        import werkzeug.serving

        # Authlib refuses plain HTTP unless told; the provider only ever listens on loopback.
        self._env_before = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
        try:
            self._server = werkzeug.serving.make_server(
                HOST, self.port, keycloak_paths(oidc_provider_mock.app(), self.realm_path),
                threaded=True)
        except OSError as exc:
            raise TargetUnavailable(f"OpenID provider: cannot listen on {HOST}:{self.port}: "
                                    f"{exc.strerror}") from None
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.1,),
                                        name="oidc-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=self.timeout)
            self._thread = None
        if self._env_before is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = self._env_before

    def __enter__(self) -> OpenIDProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a test does at the provider ---------------------------------------------------
    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """The claims the provider gives for `sub` (email, email_verified, name, ...)."""
        response = httpx.put(f"{self.base_url}/users/{urllib.parse.quote(sub)}", json=claims,
                             timeout=self.timeout)
        if response.status_code != 204:
            raise TargetUnavailable(f"OpenID provider: PUT /users/{sub} answered "
                                    f"{response.status_code}")

    def consent(self, authorize_location: str, sub: str) -> str:
        """The user signs in as `sub` on the consent form GoTrue sent them to; returns where
        the provider redirects them (the client's redirect URI with code and state)."""
        parts = urllib.parse.urlsplit(authorize_location)
        path = parts.path
        if not path.startswith(self.realm_path):
            raise TargetUnavailable(f"OpenID provider: {authorize_location} is not under "
                                    f"{self.url}")
        response = httpx.post(f"{self.base_url}{path}?{parts.query}", data={"sub": sub},
                              timeout=self.timeout, follow_redirects=False)
        location = response.headers.get("location", "")
        if response.status_code not in (302, 303) or not location:
            raise TargetUnavailable(f"OpenID provider: consent answered {response.status_code} "
                                    "without a redirect")
        return location


@contextlib.contextmanager
def provider_at(url: str) -> Iterator[OpenIDProvider]:
    """A provider listening where `url` (a GOTRUE_EXTERNAL_KEYCLOAK_URL) points; loopback
    only."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in (HOST, "localhost") or not parts.port:
        raise TargetUnavailable(f"the OpenID provider URL {url} is not on {HOST} with a port: "
                                "the harness starts its provider on loopback only")
    with OpenIDProvider(parts.port, parts.path.rstrip("/") or REALM_PATH) as provider:
        yield provider
