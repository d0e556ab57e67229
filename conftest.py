pytest_plugins = ["zega_common.testing"]
