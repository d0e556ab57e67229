"""Which adapter a request asks for, and the zega-adapters KV pointer that says which one is current."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum

from zega_common import adapter_layout
from zega_common.errors import InvalidArgument

_VERSION = re.compile(r"^v([1-9][0-9]{0,8})$")


class AdapterMode(Enum):
    AUTO = "auto"
    BASE = "base"
    VERSION = "version"


@dataclass(frozen=True)
class AdapterRef:
    """The request's `adapter` field, parsed: "auto" (or empty), "base" or "v<N>"."""

    mode: AdapterMode
    version: int = 0

    @classmethod
    def parse(cls, text: str) -> AdapterRef:
        value = text.strip().lower()
        if value in ("", "auto"):
            return cls(AdapterMode.AUTO)
        if value == "base":
            return cls(AdapterMode.BASE)
        match = _VERSION.fullmatch(value)
        if match is None:
            raise InvalidArgument(f'adapter {text[:40]!r} is not "auto", "base" or "v<N>" (e.g. "v3")')
        return cls(AdapterMode.VERSION, int(match.group(1)))


@dataclass(frozen=True, order=True)
class AdapterKey:
    """One version of one user's adapter: the unit that is loaded, cached and evicted."""

    user_id: str
    version: int

    @property
    def object_prefix(self) -> str:
        return adapter_layout.object_prefix(self.user_id, self.version)

    def __str__(self) -> str:
        return self.object_prefix


@dataclass(frozen=True)
class AdapterPointer:
    """The KV zega-adapters value of a user (DESIGN.md): the version requests on "auto" get."""

    version: int
    object_name: str
    sha256: str
    base_model: str = ""
    updated_at: str = ""

    @classmethod
    def from_json(cls, data: bytes) -> AdapterPointer:
        """Parse a pointer; raises ValueError saying what is wrong."""
        try:
            obj = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"pointer is not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise ValueError("pointer is not a JSON object")
        version = obj.get("adapter_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"pointer adapter_version {version!r} is not a positive integer")
        sha = obj.get("sha256", "")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise ValueError("pointer sha256 is not 64 lowercase hex digits")
        return cls(
            version=version,
            object_name=str(obj.get("object_name") or ""),
            sha256=sha,
            base_model=str(obj.get("base_model") or ""),
            updated_at=str(obj.get("updated_at") or ""),
        )
