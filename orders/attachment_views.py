"""GET /api/marketplace-orders/{uuid}/attachments/{field}/{name}: an order's file, to whoever may see it.

The order's visibility rules decide (orders.selectors.order_list_for): its author, the consumer's and the
provider's people with an order right, staff and support get the bytes; anyone else, an order without that
file, or a name that is no longer the order's file (replaced since), a 404. Answered as a download
(Content-Disposition: attachment) with the stored name, served the same way under `bin/serve` and gunicorn.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from core.api.lookups import parse_uuid
from core.api.schema import errors
from orders import selectors
from orders.attachments import ATTACHMENT_FIELDS, content_type, download_name

FIELD = OpenApiParameter(
    "field", str, OpenApiParameter.PATH, enum=list(ATTACHMENT_FIELDS),
    description="Which file of the order: the purchase order, or the consumer's or provider's message file.",
)  # fmt: skip


class OrderAttachmentView(APIView):
    @extend_schema(
        operation_id="marketplace_orders_attachments_retrieve",
        summary="Download an order's attachment",
        description="The file as uploaded (PDF), as an attachment with its name. Anyone who can see the order "
        "may download it; an order you cannot see, without this file, or whose file has been replaced since "
        "the link was given, is a 404.",
        parameters=[
            OpenApiParameter("uuid", str, OpenApiParameter.PATH),
            FIELD,
            OpenApiParameter("name", str, OpenApiParameter.PATH, description="The file's name, as in its URL."),
        ],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            **errors(401, 404),
        },
    )
    def get(self, request: Request, uuid: str, field: str, name: str) -> FileResponse:
        order_uuid = parse_uuid(uuid)
        if order_uuid is None or field not in ATTACHMENT_FIELDS:
            raise Http404
        order = selectors.order_list_for(request.user, joins=()).filter(uuid=order_uuid).first()
        file = getattr(order, field, None)
        if order is None or not file or download_name(file) != name:
            raise Http404
        try:
            handle = file.open("rb")
        except FileNotFoundError as missing:  # the row names a file the storage no longer has
            raise Http404 from missing
        return FileResponse(handle, as_attachment=True, filename=download_name(file), content_type=content_type(file))
