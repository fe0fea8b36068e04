"""planrun's built-in plugins, registered through the ``planrun`` entry-point group like any
third-party plugin. What every Postgres-facing plugin shares lives in :mod:`planrun.plugins.pg`."""
