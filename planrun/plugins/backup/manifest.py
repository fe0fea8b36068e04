"""The manifest written beside every backup: what it holds and how to prove it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

MANIFEST_NAME = "manifest.json"
WRITER = "planrun"


class BackupFile(BaseModel):
    name: str
    size: int
    sha256: str


class Manifest(BaseModel):
    """Everything needed to verify and restore a backup without the database it came from."""

    writer: str = WRITER
    backup_id: str
    plan: str
    run_id: str
    created_at: str
    database: str  # host:port/name, never credentials
    server_version: str
    pg_dump_version: str
    revision: str | None = None
    format: str
    compression: str
    files: list[BackupFile]
    size: int
    row_counts: dict[str, int]
    schema_fingerprint: str
    schema_items: list[str] = Field(default_factory=list)
    dump_seconds: float = 0.0
    # a backup scoped to what the migration touches: the whole schema, the data of these tables
    scope: list[str] | None = None
    table_fingerprints: dict[str, str] = Field(default_factory=dict)  # scope's tables: their data fingerprint lines
    sequences: dict[str, int | None] = Field(default_factory=dict)  # the scope's sequences: last value (None: unused)
    # the backup's own snapshot (pg_current_snapshot()) and each table's count of deleted rows then: what tells
    # rows other transactions wrote after it from the backup's (see others.py)
    snapshot: str | None = None
    encoding: str = "UTF8"  # the database's (server_encoding): the archive's names and rows are in it
    deletes: dict[str, int] = Field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        data: Any = json.loads(text)
        return cls.model_validate(data)
