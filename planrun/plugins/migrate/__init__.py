"""The ``migrate`` step and rollback by ``downgrade``: Alembic run in-process, through its
Python API, honouring the project's own alembic.ini and env.py."""
