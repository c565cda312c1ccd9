from config.env import env_int

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasFullScope"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.AccountRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JsonParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["config.api.filters.QueryFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Sesame API",
    "DESCRIPTION": (
        "Self-hosted messaging on Amazon SES and SNS. Authenticate every call with "
        "`Authorization: Bearer <token>`. Validation errors answer 422 with "
        '`{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`; every response carries '
        "`x-ratelimit-limit` and `x-ratelimit-remaining`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI from drf-spectacular-sidecar's static files, not a CDN: the docs render offline and behind firewalls.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.complete_error_responses",
    ],
    # Several models have a `status`; give each choice set its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "EmailStatusEnum": "emails.models.Email.Status",
        "IdentityStatusEnum": "emails.models.Identity.Status",
        "AccountStatusEnum": "accounts.models.Account.Status",
        "SmsStatusEnum": "sms.models.SmsMessage.Status",
        "OtpStatusEnum": "sms.models.OtpVerification.Status",
        "SmsSandboxNumberStatusEnum": "sms.models.SmsSandboxNumber.Status",
        "BroadcastStatusEnum": "events.broadcasts.models.Broadcast.Status",
        "BroadcastChannelEnum": "events.broadcasts.models.Broadcast.Channel",
        "TemplateChannelEnum": "emails.templating.models.Template.Channel",
        "OtpChannelEnum": "sms.models.OtpVerification.Channel",
    },
}

# Seconds between writes of ApiToken.last_used_at: recording every request would turn reads into writes.
SESAME_TOKEN_LAST_USED_RESOLUTION = env_int("SESAME_TOKEN_LAST_USED_RESOLUTION", 60)

# The input boundary (config/api/boundary.py): JSON bodies nest at most this deep and hold at most this many values
# (a batch of 500 emails with 50 recipients and 50 custom fields each stays well below). Bytes are capped by
# DATA_UPLOAD_MAX_MEMORY_SIZE.
SESAME_API_MAX_JSON_DEPTH = env_int("SESAME_API_MAX_JSON_DEPTH", 32)
SESAME_API_MAX_JSON_ITEMS = env_int("SESAME_API_MAX_JSON_ITEMS", 200_000)
