"""Databases planrun makes for itself and removes: a throwaway PostgreSQL cluster (initdb,
pg_ctl, a watchdog so it never outlives its owner), a scratch database on a server the user
names or on such a cluster, and its preparation the way the plan says (``test.prepare``)."""
