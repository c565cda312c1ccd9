"""Error texts shared by the authentication layer and the error handler (kept free of DRF imports)."""

MISSING_TOKEN = "Missing API token; send `Authorization: Bearer <token>`."  # noqa: S105
