"""The admin token of a local stack: ZEGA_ADMIN_TOKEN, else the one kept in <data_dir>/admin-token."""

from __future__ import annotations

import secrets
from pathlib import Path


def ensure_admin_token(configured: str, data_dir: Path) -> str:
    if configured:
        return configured
    path = data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = "zega-admin-" + secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token
