"""Fleet runs: one plan over many same-shaped databases (a database per tenant, region or shard),
coordinated through a PostgreSQL control database by any number of workers on any machines."""
