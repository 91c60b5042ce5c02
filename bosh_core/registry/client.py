"""``RegistryClient``: what a CPI (writer) or an agent (reader) uses to reach the registry."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from bosh_core.registry import RegistryError, RegistryNotFoundError

__all__ = ["RegistryClient"]


class RegistryClient:
    """Settings by instance id at `url` (``http://host:port``, user info allowed).

    `user`/`password` (or user info in `url`) are needed to write; an agent reading its
    own settings from its own IP needs none.
    """

    def __init__(
        self,
        url: str,
        user: str | None = None,
        password: str | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        self.url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl().rstrip("/")
        user = user if user is not None else urllib.parse.unquote(parts.username or "")
        password = password if password is not None else urllib.parse.unquote(parts.password or "")
        self._authorization = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if user or password
            else None
        )
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"RegistryClient({self.url!r})"

    def _request(self, method: str, instance_id: str, body: bytes | None = None) -> Any:
        quoted = urllib.parse.quote(instance_id, safe="")
        request = urllib.request.Request(
            f"{self.url}/instances/{quoted}/settings", data=body, method=method
        )
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self._authorization is not None:
            request.add_header("Authorization", self._authorization)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise RegistryNotFoundError(
                    f"registry {self.url} has no settings for instance {instance_id!r}"
                ) from None
            if error.code == 401:
                raise RegistryError(
                    f"registry {self.url} refused {method}: wrong or missing credentials"
                ) from None
            raise RegistryError(
                f"registry {self.url} answered {method} for instance {instance_id!r}"
                f" with HTTP {error.code}"
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise RegistryError(f"cannot reach registry {self.url}: {error}") from None

    def get(self, instance_id: str) -> dict[str, Any]:
        """The instance's settings, parsed."""
        reply = self._request("GET", instance_id)
        try:
            settings = json.loads(reply["settings"])
        except (KeyError, TypeError, ValueError):
            raise RegistryError(
                f"registry {self.url} returned malformed settings for {instance_id!r}"
            ) from None
        if not isinstance(settings, dict):
            raise RegistryError(f"registry settings for {instance_id!r} are not an object")
        return settings

    def put(self, instance_id: str, settings: Mapping[str, Any]) -> None:
        self._request("PUT", instance_id, json.dumps(settings).encode())

    def delete(self, instance_id: str) -> None:
        """Remove the instance's settings; removing absent settings is not an error."""
        self._request("DELETE", instance_id)
