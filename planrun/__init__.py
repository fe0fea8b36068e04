"""planrun: PostgreSQL schema migrations run from a reviewed YAML plan, with a proven way back."""

__version__ = "0.1.0"
