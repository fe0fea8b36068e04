"""Generated rows for a database as it stands: read its tables from the catalog, make values
that fit every column and constraint (with edge cases mixed in), and stream them in with COPY.
Shared by ``planrun generate`` and the stairway at volume; imports no plugin."""
