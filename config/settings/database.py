from config.env import env_str, parse_database_url
from config.settings.paths import VAR_DIR

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'sesame.sqlite3'}"
DATABASES = {"default": parse_database_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
