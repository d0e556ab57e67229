"""Cross-service fixtures: the whole local stack on free ports, as `zega up` runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zega_cli.stack import Stack, free_ports


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    with Stack(data_dir, ports=free_ports(), nats_port=0, env={"ZEGA_ADMIN_TOKEN": "test-admin-token"}) as running:
        yield running
