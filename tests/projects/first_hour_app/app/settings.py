"""The application's settings, read once at import, as most applications' are."""
import os

DATABASE_URL = os.environ.get("APP_DATABASE_URL", "postgresql+psycopg2://localhost/app")
