from typing import Any

from accounts.models import Account

P8_KEY = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGSECRETSECRET\n-----END PRIVATE KEY-----"
SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "acme-app",
    "private_key_id": "k1",
    "private_key": "-----BEGIN PRIVATE KEY-----\nFCMSECRETFCMSECRET\n-----END PRIVATE KEY-----\n",
    "client_email": "sns@acme-app.iam.gserviceaccount.com",
}
APNS_TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"
FCM_TOKEN = "fcm-dGVzdC10b2tlbi1mb3ItYW5kcm9pZA:APA91bHun4MxP5egoKMwt2KZFBaFUH"


def apns_app_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Acme iOS",
        "platform": "APNS",
        "apns": {"key_p8": P8_KEY, "key_id": "ABC123DEFG", "team_id": "DEF123GHIJ", "bundle_id": "com.acme.app"},
    }
    body.update(overrides)
    return body


def fcm_app_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Acme Android", "platform": "GCM", "fcm": {"service_account": SERVICE_ACCOUNT}}
    body.update(overrides)
    return body


def create_app(api: Any, account: Account, body: dict[str, Any]) -> dict[str, Any]:
    answer = api(account).post("/v1/push/apps", body, format="json")
    assert answer.status_code == 201, answer.json()
    result: dict[str, Any] = answer.json()
    return result


def register(api: Any, account: Account, app_id: str, token: str, **extra: Any) -> Any:
    return api(account).post("/v1/push/devices", {"app": app_id, "token": token, **extra}, format="json")
