"""Never run: the project is refused at validate for its broken revision file."""
