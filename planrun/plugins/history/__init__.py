"""What planrun remembers, kept in the database it migrates (see :mod:`.store`)."""
