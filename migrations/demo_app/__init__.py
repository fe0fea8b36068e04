"""The demo application: just enough of a shop to show the expand/contract switch of
products.description -> products.description_new (see migrations/versions/002 and 003)."""
