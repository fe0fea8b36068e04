-- what the application's metadata.create_all() makes before its first migration
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);
