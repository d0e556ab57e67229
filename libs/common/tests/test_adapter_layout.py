"""Object names of the adapter store, as the trainer writes and inference parses them."""

from __future__ import annotations

from zega_common import adapter_layout


def test_object_paths_parse_back_and_other_names_do_not():
    name = adapter_layout.object_path("alice_2", 12, adapter_layout.WEIGHTS_FILE)
    assert adapter_layout.parse_object_path(name) == ("alice_2", 12, adapter_layout.WEIGHTS_FILE)
    for other in ("alice/v0/x", "alice/12/x", "alice/v1", "alice/v1/a/b", "-bad/v1/x", "alice/v01/x", ""):
        assert adapter_layout.parse_object_path(other) is None, other
