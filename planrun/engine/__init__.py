"""The engine: plans, steps, hooks and the journal. It knows nothing of Postgres, S3 or Slack;
those live in plugins behind the hooks of :mod:`planrun.engine.hookspecs`."""
