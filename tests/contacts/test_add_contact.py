import pytest

from contacts.models import Contact, Tag
from tests.accounts.factories import token_for
from tests.contacts.factories import contact_for

pytestmark = pytest.mark.django_db

# The seed's call, exactly as Send With SES documents it.
SEED_BODY = {
    "email": "example@gmail.com",
    "status": "Unsubscribe",
    "full_name": "John Due",
    "mobile": "+918098763849",
    "dob": "10-10-1990",
    "gender": "Male",
    "city": "Hyderabad",
    "country": "India",
    "add_tags": "aaa,bbb,ccc",
    "remove_tags": "ddd,eee,fff",
}


@pytest.fixture
def key(account):
    return token_for(account, scopes=("contacts",))


def post(client, key, body, fmt="json"):
    return client.post("/add-contact", body, format=fmt, HTTP_TEMPLATE_KEY=key)


def tag_names(contact):
    return sorted(Tag.objects.filter(pk__in=contact.tag_ids).values_list("name", flat=True))


def test_seed_example_creates_the_contact_with_its_tags(client, account, key):
    response = post(client, key, SEED_BODY)
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Contact added"}
    contact = Contact.objects.get(account=account, email="example@gmail.com")
    assert (contact.status, contact.full_name, contact.mobile, str(contact.dob)) == (
        "unsubscribed",
        "John Due",
        "+918098763849",
        "1990-10-10",
    )
    assert (contact.gender, contact.city, contact.country) == ("Male", "Hyderabad", "India")
    assert tag_names(contact) == ["aaa", "bbb", "ccc"]
    assert dict(Tag.objects.filter(account=account).values_list("name", "contact_count")) == {
        "aaa": 1,
        "bbb": 1,
        "ccc": 1,
    }


def test_same_call_with_remove_tags_removes_them(client, account, key):
    post(client, key, SEED_BODY)
    response = post(client, key, {**SEED_BODY, "add_tags": "", "remove_tags": "aaa,BBB"})
    assert response.json() == {"success": True, "message": "Contact updated"}
    contact = Contact.objects.get(account=account, email="example@gmail.com")
    assert tag_names(contact) == ["ccc"]
    assert Tag.objects.get(account=account, key="aaa").contact_count == 0


def test_form_encoded_body_works_like_json(client, account, key):
    response = post(client, key, SEED_BODY, fmt="multipart")
    assert response.json() == {"success": True, "message": "Contact added"}
    response = client.post(
        "/add-contact",
        "email=Form%40Example.com&add_tags=x,y",
        content_type="application/x-www-form-urlencoded",
        HTTP_TEMPLATE_KEY=key,
    )
    assert response.json() == {"success": True, "message": "Contact added"}
    assert tag_names(Contact.objects.get(account=account, email="form@example.com")) == ["x", "y"]


def test_bad_mobile_fails_with_the_e164_form_expected(client, account, key):
    response = post(client, key, {**SEED_BODY, "mobile": "+44 20 7183 8750"})
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert body["message"] == "Invalid mobile"
    assert "+442071838750" in body["error"] and "E.164" in body["error"]
    assert not Contact.objects.filter(account=account).exists()


def test_missing_primary_key_fails(client, account, key):
    response = post(client, key, {"full_name": "Nobody"})
    assert response.status_code == 422
    assert response.json()["success"] is False
    assert "email or mobile" in response.json()["error"]


def test_mobile_only_contact_is_keyed_by_mobile(client, account, key):
    assert post(client, key, {"mobile": "+442071838750", "full_name": "A"}).json()["message"] == "Contact added"
    assert post(client, key, {"mobile": "+442071838750", "city": "London"}).json()["message"] == "Contact updated"
    contact = Contact.objects.get(account=account, mobile="+442071838750")
    assert (contact.full_name, contact.city, contact.email) == ("A", "London", None)


def test_email_is_stored_lower_cased_and_matched_case_insensitively(client, account, key):
    post(client, key, {"email": "John.Due@Example.COM"})
    response = post(client, key, {"email": "john.due@example.com", "city": "Pune"})
    assert response.json()["message"] == "Contact updated"
    assert Contact.objects.get(account=account).email == "john.due@example.com"


def test_wrong_key_answers_in_send_with_ses_shape(client, account):
    response = post(client, "ses_not-a-real-key", SEED_BODY)
    assert response.status_code == 403
    assert response.json() == {
        "success": False,
        "message": "Authentication failed",
        "error": "Invalid or revoked API token.",
    }


def test_bearer_token_works_too_and_existing_contact_is_updated(api, account):
    contact_for(account, email="example@gmail.com", full_name="Old")
    response = api(account, scopes=("contacts",)).post("/add-contact", SEED_BODY, format="json")
    assert response.json() == {"success": True, "message": "Contact updated"}
    assert Contact.objects.get(account=account).full_name == "John Due"


def test_bad_date_of_birth_names_the_expected_format(client, account, key):
    response = post(client, key, {**SEED_BODY, "dob": "1990/10/10"})
    assert response.status_code == 422
    assert "DD-MM-YYYY" in response.json()["error"]
