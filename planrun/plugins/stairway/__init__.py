"""The stairway: ``planrun test``, every revision up, down and up again on a scratch database,
with schema and data proofs (a plugin of its own, beside the migrate plugin it tests for)."""
