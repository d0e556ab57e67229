"""ZEGA shared library: the contracts and the runtime every service stands on."""
