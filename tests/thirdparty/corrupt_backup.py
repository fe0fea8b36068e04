"""A test plugin that damages the run's stored backup between the backup and verify steps, the
way a bad disk or a cut upload would: PLANRUN_TEST_CORRUPT=flip flips one byte; =truncate cuts
the file to a third and rewrites the manifest's size and sha256 to match."""

import hashlib
import os

from planrun.engine.hookspecs import hookimpl
from planrun.engine.steps import Step
from planrun.plugins.backup.manifest import MANIFEST_NAME, Manifest
from planrun.plugins.backup.storage import location
from planrun.plugins.facts import BackupTaken


def damage(url: str, mode: str, storage_options: dict | None = None) -> None:
    where = location(url, storage_options)
    manifest = Manifest.from_json(where.fs.cat_file(where.child(MANIFEST_NAME)))
    file = manifest.files[0]
    data = bytearray(where.fs.cat_file(where.child(file.name)))
    if mode == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) // 3]
        file.size, file.sha256 = len(data), hashlib.sha256(data).hexdigest()
        manifest.size = len(data)
        where.fs.pipe_file(where.child(MANIFEST_NAME), manifest.to_json().encode())
    where.fs.pipe_file(where.child(file.name), bytes(data))


def corrupt(ctx):
    mode = os.environ["PLANRUN_TEST_CORRUPT"]
    damage(ctx.facts.get(BackupTaken).location, mode, ctx.plan.backup.storage_options)
    return f"damaged the backup ({mode})"


@hookimpl
def planrun_steps(plan):
    return [Step("corrupt-backup", "backup", corrupt)]
