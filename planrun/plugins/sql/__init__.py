"""Reading SQL with PostgreSQL's own parser (pglast): the names a statement's nodes hold, the
tables a migration's statements touch, and stored expressions compared by meaning. No
connection here: what reads the live catalog is in :mod:`planrun.plugins.pg`."""
