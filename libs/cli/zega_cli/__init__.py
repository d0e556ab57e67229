"""The `zega` command."""
