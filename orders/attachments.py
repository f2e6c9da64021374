"""Order attachments (the purchase order, the consumer's and the provider's message files): where they are
stored and the one place they are read from, the authenticated download endpoint.

Files are stored under a directory of their own per upload (orders/<kind>/<order uuid>/<random>/<name>),
so two orders uploading "a.pdf" never share or overwrite a file, and the name is kept for the download.
MEDIA_ROOT is never served as such: the API links every attachment to
/api/marketplace-orders/<uuid>/attachments/<field>/<name>, which answers only callers who can see the
order, and only while <name> is the order's current file (a link to a replaced file is a 404).
"""

from __future__ import annotations

import mimetypes
import posixpath
import secrets
from typing import Any

from django.urls import reverse

ATTACHMENT_FIELDS = ("attachment", "consumer_message_attachment", "provider_message_attachment")
DOWNLOAD_ROUTE = "marketplace-order-attachment"
SERVED_TYPES = frozenset({"application/pdf"})


def _upload_path(kind: str, order: Any, filename: str) -> str:
    return f"orders/{kind}/{order.uuid.hex}/{secrets.token_hex(4)}/{posixpath.basename(filename)}"


def attachment_upload_to(order: Any, filename: str) -> str:
    return _upload_path("attachments", order, filename)


def message_upload_to(order: Any, filename: str) -> str:
    return _upload_path("messages", order, filename)


def download_url(request: Any, file: Any) -> str | None:
    """The download endpoint of an order's stored file (absolute with a request), None when there is none."""
    if not file:
        return None
    return attachment_url(request, file.instance.uuid.hex, file.field.name, file.name)


def attachment_url(request: Any, order_hex: str, field_name: str, stored_name: str | None) -> str | None:
    """download_url() from stored values: the order's uuid (hex), the file field's name and the file's name."""
    if not stored_name:
        return None
    kwargs = {"uuid": order_hex, "field": field_name, "name": posixpath.basename(stored_name)}
    path = reverse(DOWNLOAD_ROUTE, kwargs=kwargs)
    return request.build_absolute_uri(path) if request is not None else path


def download_name(file: Any) -> str:
    return posixpath.basename(file.name)


def content_type(file: Any) -> str:
    """application/pdf for PDFs (the API accepts nothing else); any other file is served as opaque bytes."""
    guessed = mimetypes.guess_type(download_name(file))[0]
    return guessed if guessed in SERVED_TYPES else "application/octet-stream"
