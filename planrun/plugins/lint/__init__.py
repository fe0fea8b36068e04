"""``planrun lint``: unsafe operations in pending revisions, caught before review ends."""
