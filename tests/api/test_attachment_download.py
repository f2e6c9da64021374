"""Order attachments download through the authenticated endpoint the order's file URLs point at
(orders/attachments.py): the order's visibility rules decide; stored names are unique per upload."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import Order
from tests.api import ORDERS, PDF, create_body, order_url

OTHER_PDF = b"%PDF-1.7\n% another purchase order\n%%EOF\n"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def placed_order(world, api, user: str = "project_member") -> Order:
    response = api.as_user(world.user(user)).post(ORDERS, create_body(world), format="json")
    assert response.status_code == 201, response.content
    return Order.objects.get(uuid=response.json()["uuid"])


def upload(api, order: Order, content: bytes = PDF, name: str = "a.pdf") -> str:
    file = SimpleUploadedFile(name, content, content_type="application/pdf")
    response = api.post(order_url(order, "update_attachment"), {"attachment": file}, format="multipart")
    assert response.status_code == 200, response.content
    return response.json()["attachment"]


def test_the_author_the_consumer_owner_and_the_provider_download_the_same_bytes(world, api):
    order = placed_order(world, api)
    url = upload(api, order)

    for user in ("project_member", "consumer_owner", "provider_owner", "offering_manager", "staff", "support"):
        response = api.as_user(world.user(user)).get(url)

        assert response.status_code == 200, (user, response.status_code)
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="a.pdf"'


def test_the_attachment_url_in_the_order_is_the_download_endpoint(world, api):
    order = placed_order(world, api)
    url = upload(api, order)

    body = api.as_user(world.user("consumer_owner")).get(order_url(order)).json()

    assert body["attachment"] == url == f"http://testserver{ORDERS}{order.uuid.hex}/attachments/attachment/a.pdf"


def test_another_organisation_and_anonymous_callers_cannot_download(world, api):
    order = placed_order(world, api)
    url = upload(api, order)

    assert api.as_user(world.user("other_owner")).get(url).status_code == 404
    assert api.as_user(world.user("stranger")).get(url).status_code == 404
    assert api.as_user(None).get(url).status_code == 401


def test_an_order_without_the_file_or_an_unknown_field_is_404(world, api):
    order = placed_order(world, api)
    client = api.as_user(world.user("consumer_owner"))

    assert client.get(f"{ORDERS}{order.uuid.hex}/attachments/attachment/a.pdf").status_code == 404
    url = upload(api, order)
    assert client.get(url.replace("/attachment/", "/consumer_message_attachment/")).status_code == 404
    assert client.get(url.replace("/attachment/", "/created_by/")).status_code == 404
    assert client.get(url.replace("a.pdf", "b.pdf")).status_code == 404


def test_two_orders_uploading_the_same_name_keep_their_own_files(world, api, media_root):
    first, second = placed_order(world, api), placed_order(world, api)
    first_url, second_url = upload(api, first, PDF), upload(api, second, OTHER_PDF)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.attachment.name != second.attachment.name
    assert first.uuid.hex in first.attachment.name and second.uuid.hex in second.attachment.name
    client = api.as_user(world.user("consumer_owner"))
    assert b"".join(client.get(first_url).streaming_content) == PDF
    assert b"".join(client.get(second_url).streaming_content) == OTHER_PDF
    assert client.get(second_url)["Content-Disposition"] == 'attachment; filename="a.pdf"'


def test_replacing_an_attachment_removes_the_old_file(world, api, media_root):
    order = placed_order(world, api)
    upload(api, order, PDF)
    order.refresh_from_db()
    old_path = media_root / order.attachment.name

    url = upload(api, order, OTHER_PDF, name="b.pdf")

    assert not old_path.exists()
    client = api.as_user(world.user("consumer_owner"))
    assert b"".join(client.get(url).streaming_content) == OTHER_PDF
    assert client.get(url.replace("b.pdf", "a.pdf")).status_code == 404  # the old link is dead


def test_a_message_attachment_downloads_from_its_own_url(world, api):
    order = placed_order(world, api)
    file = SimpleUploadedFile("note.pdf", PDF, content_type="application/pdf")
    api.as_user(world.user("consumer_owner")).post(
        order_url(order, "set_consumer_info"), {"consumer_message": "see file", "consumer_message_attachment": file},
        format="multipart",
    )  # fmt: skip

    body = api.get(order_url(order)).json()
    response = api.as_user(world.user("provider_owner")).get(body["consumer_message_attachment"])

    assert body["consumer_message_attachment"].endswith("/attachments/consumer_message_attachment/note.pdf")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="note.pdf"'
