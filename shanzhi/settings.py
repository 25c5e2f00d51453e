"""Settings for Shanzhi, read from environment variables with safe defaults.

The embedded default (no variables set) is a single-machine SQLite deployment whose secrets are generated
once into the data directory.  ``SHANZHI_ENV=production`` turns on the production profile: secrets must be
given, HTTPS is assumed, and ``shanzhi check --deploy`` passes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
ENV = os.environ.get("SHANZHI_ENV", "development")
PRODUCTION = ENV == "production"
DATA_DIR = Path(os.environ.get("SHANZHI_DATA_DIR", Path.cwd() / "var")).resolve()


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_from_file(name: str, factory: str) -> str:
    """Development/demo only: a secret generated once and kept in the data directory."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / name
    if not path.exists():
        value = secrets.token_urlsafe(50) if factory == "token" else _new_pii_key()
        path.write_text(value)
        path.chmod(0o600)
    return path.read_text().strip()


def _new_pii_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


if PRODUCTION:
    SECRET_KEY = os.environ["SECRET_KEY"]
    SHANZHI_PII_KEY = os.environ["SHANZHI_PII_KEY"]
else:
    SECRET_KEY = os.environ.get("SECRET_KEY") or _secret_from_file("secret_key", "token")
    SHANZHI_PII_KEY = os.environ.get("SHANZHI_PII_KEY") or _secret_from_file("pii.key", "pii")
# Older PII keys still accepted for decryption during a key rotation, comma separated "id:key" pairs.
SHANZHI_PII_OLD_KEYS = os.environ.get("SHANZHI_PII_OLD_KEYS", "")

DEBUG = _env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "" if PRODUCTION else "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_tasks",
    "django_tasks_db",
    "django_otp.plugins.otp_totp",
    "shanzhi.core",
    "shanzhi.regions",
    "shanzhi.accounts",
    "shanzhi.people",
    "shanzhi.events",
    "shanzhi.devices",
    "shanzhi.alerts",
    "shanzhi.scenarios",
    "shanzhi.affairs",
    "shanzhi.portal",
    "shanzhi.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "shanzhi.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "shanzhi.core.locale_middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "shanzhi.accounts.middleware.IdleTimeoutMiddleware",
    "shanzhi.accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shanzhi.urls"
WSGI_APPLICATION = "shanzhi.wsgi.application"
ASGI_APPLICATION = "shanzhi.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "shanzhi.core.context_processors.shell",
            ],
        },
    }
]

# --- database -------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'shanzhi.sqlite3'}"
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # IMMEDIATE: a write transaction takes the write lock at BEGIN, so concurrent writers queue
        # instead of failing half way (and the audit chain stays linear).
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    _db["TEST"] = {"NAME": os.environ.get("SHANZHI_TEST_SQLITE", "")} if os.environ.get(
        "SHANZHI_TEST_SQLITE"
    ) else {}
else:
    _db["TEST"] = {"NAME": os.environ.get("SHANZHI_TEST_DB_NAME") or f"test_{_db['NAME']}"}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- accounts and security -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "shanzhi.accounts.passwords.PolicyValidator"},
]
# Password policy profiles: residents get the base profile, officials (any non-resident role) the strict one.
SHANZHI_PASSWORD_POLICY = {
    "base": {
        "min_length": int(os.environ.get("SHANZHI_PASSWORD_MIN_LENGTH", "8")),
        "min_classes": 2,
    },
    "official": {
        "min_length": int(os.environ.get("SHANZHI_OFFICIAL_PASSWORD_MIN_LENGTH", "12")),
        "min_classes": 3,
    },
}
SHANZHI_LOCKOUT_FAILURES = int(os.environ.get("SHANZHI_LOCKOUT_FAILURES", "5"))
SHANZHI_LOCKOUT_MINUTES = int(os.environ.get("SHANZHI_LOCKOUT_MINUTES", "15"))
SHANZHI_IDLE_TIMEOUT_MINUTES = int(os.environ.get("SHANZHI_IDLE_TIMEOUT_MINUTES", "30"))
SHANZHI_REQUIRE_2FA = _env_bool("SHANZHI_REQUIRE_2FA", PRODUCTION)
OTP_TOTP_ISSUER = "Shanzhi 善治"
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
SHANZHI_MAX_IMPORT_BYTES = int(os.environ.get("SHANZHI_MAX_IMPORT_BYTES", str(20 * 1024 * 1024)))

# --- internationalisation ------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
# every app keeps its own locale/ (see `shanzhi i18n`); templates live inside apps
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", DATA_DIR / "static"))
# Static files are served by WhiteNoise inside the app server (`shanzhi serve` runs collectstatic first);
# in DEBUG it also finds them straight in the apps, so edits show without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media"))

# --- maps ----------------------------------------------------------------------------------------
# Empty: maps draw the GeoJSON boundaries on a blank background (no tile server needed).
SHANZHI_TILE_URL = os.environ.get("SHANZHI_TILE_URL", "")
SHANZHI_TILE_ATTRIBUTION = os.environ.get("SHANZHI_TILE_ATTRIBUTION", "")

# --- background tasks (Django's Tasks API; see docs/adr/0011) --------------------------------------
# The database backend: `shanzhi worker` runs queued tasks beside the deadline sweep.  Tests and one-off
# scripts may set SHANZHI_TASKS_BACKEND=django_tasks.backends.immediate.ImmediateBackend.
TASKS = {"default": {"BACKEND": os.environ.get("SHANZHI_TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}

# --- events ------------------------------------------------------------------------------------------
# Working hours of a day, for deadlines counted in working time.
SHANZHI_WORK_HOURS = [tuple(p.split("-")) for p in os.environ.get(
    "SHANZHI_WORK_HOURS", "08:30-12:00,13:30-17:30").split(",")]
SHANZHI_DEADLINE_WARN_FRACTION = float(os.environ.get("SHANZHI_DEADLINE_WARN_FRACTION", "0.8"))
SHANZHI_DUPLICATE_WINDOW_HOURS = int(os.environ.get("SHANZHI_DUPLICATE_WINDOW_HOURS", "24"))
SHANZHI_MAX_ATTACHMENT_BYTES = int(os.environ.get("SHANZHI_MAX_ATTACHMENT_BYTES", str(10 * 1024 * 1024)))
# hot-path memos (tokens, categories, grids, centres): seconds a change made elsewhere may take to be seen
SHANZHI_MEMO_SECONDS = float(os.environ.get("SHANZHI_MEMO_SECONDS", "5"))
# group commit of event intake: most reports written in one transaction (1 = no batching)
SHANZHI_INTAKE_BATCH = int(os.environ.get("SHANZHI_INTAKE_BATCH", "200"))
# deadline-sweep batches commit without waiting for the WAL flush (events/deadlines.py)
SHANZHI_SWEEP_ASYNC_COMMIT = _env_bool("SHANZHI_SWEEP_ASYNC_COMMIT", True)
# alert re-sends moving endsAt later by at most this share of the time left are not written (ADR 0014)
SHANZHI_ALERTS_ENDS_AT_SLACK = float(os.environ.get("SHANZHI_ALERTS_ENDS_AT_SLACK", "0.125"))
# event-count alert rules: seconds between full counts of a window (increments in between)
SHANZHI_ALERTS_COUNT_RECOUNT_SECONDS = float(os.environ.get("SHANZHI_ALERTS_COUNT_RECOUNT_SECONDS", "600"))
# plain bearer-token report posts answered without the page middleware (events/intake_http.py, ADR 0015)
SHANZHI_INTAKE_FRONT = _env_bool("SHANZHI_INTAKE_FRONT", True)
SHANZHI_WEBHOOK_URL = os.environ.get("SHANZHI_WEBHOOK_URL", "")
SHANZHI_WEBHOOK_SECRET = os.environ.get("SHANZHI_WEBHOOK_SECRET", "")

# --- API -----------------------------------------------------------------------------------------
NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 500

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}


# Residents' portal: the SMS sender for one-time login codes (a class with ``send(phone, text)``).
SHANZHI_SMS_BACKEND = os.environ.get("SHANZHI_SMS_BACKEND", "shanzhi.portal.sms.ConsoleSender")
