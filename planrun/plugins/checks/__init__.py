"""Checks: the ``pre-checks`` and ``post-checks`` steps (:mod:`.steps`) and the built-in check
types, one module each. Every check reads through :func:`.readonly.readonly_connection`."""
