"""The servers added as model sources ("Add a server" in My Models, `models --add-server`).

Each is a name the user knows it by, its address, and whether it has an API key (the key
itself is in the system keyring: app/library/server_keys.py). The list is one settings file
(`servers.json`) under the settings files' policy: a damaged one is set aside with a warning
and the list starts empty. Its models are listed by app/library/server_listing.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.core.errors import InvalidRequestError
from app.library.paths import config_dir
from app.library.server_keys import forget_key, store_key
from app.library.settings_file import SettingsFile

FILE_NAME = "servers.json"
SCHEMA = 1
MAX_NAME = 64
_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


@dataclass(frozen=True)
class RemoteServer:
    name: str  # what its models are listed under: "<name>/<model>"
    url: str  # base address, without a trailing /v1
    has_key: bool = False  # an API key is kept for it in the system keyring

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "has_key": self.has_key}


def normalize_url(text: str) -> str:
    """The base address a person typed, as the listing and the engine use it: http(s), no
    trailing slash, no /v1 (the OpenAI path is added where needed). InvalidRequestError with
    what to type otherwise."""
    url = text.strip()
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError(
            f"{text.strip()!r} is not a server address: type e.g. http://192.168.1.20:1234"
        )
    if parts.query or parts.fragment:
        raise InvalidRequestError(f"a server address has no ?query or #fragment: {text.strip()!r}")
    try:
        parts.port  # noqa: B018 (parsing it checks it)
    except ValueError:
        raise InvalidRequestError(f"the port in {text.strip()!r} is not a number from 1 to 65535") from None
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def name_from_url(url: str) -> str:
    """A default name: the host, and the port when it has one ("192.168.1.20:8080")."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or url


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequestError("a server needs a name")
    if len(name) > MAX_NAME or _BAD_NAME.search(name):
        raise InvalidRequestError(
            f"a server name is at most {MAX_NAME} characters, without '/' or control characters: {name!r}"
        )
    return name


def _check(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    servers = data.get("servers")
    if not isinstance(servers, list):
        raise ValueError("not a list of servers")
    kept: list[dict[str, Any]] = []
    dropped: list[str] = []
    names: set[str] = set()
    for item in servers:
        try:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise InvalidRequestError(f"expected a server with a name, found {item!r}")
            server = RemoteServer(
                check_name(item["name"]), normalize_url(str(item.get("url", ""))), item.get("has_key") is True
            )
            if server.name in names:
                raise InvalidRequestError(f"{server.name} is listed twice")
        except InvalidRequestError as exc:
            dropped.append(str(exc))
            continue
        names.add(server.name)
        kept.append(server.to_json())
    return {"servers": kept}, dropped


class ServerRegistry:
    def __init__(self, path: Path | None = None) -> None:
        self.file = SettingsFile(
            path or config_dir() / FILE_NAME, "the list of model servers", _check, SCHEMA
        )

    def servers(self) -> list[RemoteServer]:
        return [
            RemoteServer(s["name"], s["url"], bool(s.get("has_key")))
            for s in self.file.values.get("servers", [])
        ]

    def get(self, name: str) -> RemoteServer | None:
        return next((s for s in self.servers() if s.name == name), None)

    def add(self, url: str, name: str | None = None, api_key: str | None = None) -> RemoteServer:
        """Add (or replace, by name) a server. The key goes to the system keyring first: where
        there is none, KeyringUnavailableError and nothing is added."""
        base = normalize_url(url)
        server = RemoteServer(check_name(name or name_from_url(base)), base, bool(api_key))
        if api_key:
            store_key(server.name, api_key)
        elif self.get(server.name) is not None:
            forget_key(server.name)  # replaced by a server without a key

        def apply(values: dict[str, Any]) -> None:
            others = [s for s in values.get("servers", []) if s.get("name") != server.name]
            values["servers"] = [*others, server.to_json()]

        self.file.change(apply)
        return server

    def remove(self, name: str) -> bool:
        """Forget a server and its key; whether it was there."""
        if self.get(name) is None:
            return False
        forget_key(name)
        self.file.change(
            lambda values: values.update(
                servers=[s for s in values.get("servers", []) if s.get("name") != name]
            )
        )
        return True
