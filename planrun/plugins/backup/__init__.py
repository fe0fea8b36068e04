"""Backups that are proven restorable: the ``backup`` and ``verify-backup`` steps, rollback by
``restore``, and the manual commands (backups, restore, verify-backup)."""
