"""Request bodies of the order endpoints. They translate and validate shapes; services decide."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from rest_framework import serializers

from core import http
from core.api.fields import AttributesField, CountsField
from core.api.relations import LinkOrUUIDField
from offerings.models import Offering
from orders import selectors
from orders.models import MAX_LIMIT

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def validate_pdf(upload: UploadedFile | None) -> UploadedFile | None:
    """Purchase orders and messages attach PDFs only, up to 10 MB."""
    if upload is None:
        return None
    if upload.size > MAX_ATTACHMENT_BYTES:
        raise serializers.ValidationError("The file is larger than 10 MB.")
    head = upload.read(5)
    upload.seek(0)
    if head != b"%PDF-":
        raise serializers.ValidationError("Only PDF files are accepted.")
    return upload


def validate_callback_target(url: str | None) -> None:
    """Callbacks go to http(s) only, and not to an internal host while private targets are refused."""
    if not url:
        return
    try:
        http.check_target(url, resolve=False)  # the address connected to is checked again when sending
    except http.OutboundRefused as exc:
        raise serializers.ValidationError(f"This URL cannot receive callbacks: {exc}.") from exc


class LimitsField(CountsField):
    """Component type → limit (0 to MAX_LIMIT)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_value=MAX_LIMIT, **kwargs)


class OrderCreateSerializer(serializers.Serializer):
    offering = LinkOrUUIDField(lookup=lambda request, uuid: selectors.orderable_offering(request.user, uuid))
    project = LinkOrUUIDField(lookup=lambda request, uuid: selectors.visible_project(request.user, uuid))
    plan = LinkOrUUIDField(lookup=lambda request, uuid: selectors.plan_by_uuid(uuid), required=False)
    attributes = AttributesField(required=False, default=dict)
    limits = LimitsField(required=False, default=dict)
    accepting_terms_of_service = serializers.BooleanField(required=False, write_only=True)
    callback_url = serializers.URLField(
        required=False, allow_null=True, max_length=500, validators=[validate_callback_target]
    )
    request_comment = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    start_date = serializers.DateField(required=False, allow_null=True)
    slug = serializers.SlugField(required=False, allow_blank=True, max_length=150)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        offering: Offering = data["offering"]
        plan = data.get("plan")
        if plan is not None and plan.offering_id != offering.pk:
            raise serializers.ValidationError({"plan": ["This plan is not available for selected offering."]})
        return data


class OrderUpdateSerializer(serializers.Serializer):
    limits = LimitsField(required=False)
    attributes = AttributesField(required=False)
    start_date = serializers.DateField(required=False, allow_null=True)


class ApproveByProviderSerializer(serializers.Serializer):
    attributes = AttributesField(required=False)


class RejectByConsumerSerializer(serializers.Serializer):
    consumer_rejection_comment = serializers.CharField(required=False, allow_blank=True, default="")
    error_message = serializers.CharField(required=False, allow_blank=True, default="")
    error_traceback = serializers.CharField(required=False, allow_blank=True, default="")


class RejectByProviderSerializer(serializers.Serializer):
    provider_rejection_comment = serializers.CharField(required=False, allow_blank=True, default="")


class SetStateErredSerializer(serializers.Serializer):
    error_message = serializers.CharField(required=False, allow_blank=True, default="")
    error_traceback = serializers.CharField(required=False, allow_blank=True, default="")


class CancelSerializer(serializers.Serializer):
    termination_comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class BackendIdSerializer(serializers.Serializer):
    backend_id = serializers.CharField(allow_blank=True, max_length=255)


class AttachmentSerializer(serializers.Serializer):
    attachment = serializers.FileField(allow_null=True, validators=[validate_pdf])


class ConsumerInfoSerializer(serializers.Serializer):
    consumer_message = serializers.CharField(required=False, allow_blank=True, default="")
    consumer_message_attachment = serializers.FileField(required=False, allow_null=True, validators=[validate_pdf])


class ProviderInfoSerializer(serializers.Serializer):
    provider_message = serializers.CharField(required=False, allow_blank=True, default="")
    provider_message_url = serializers.URLField(required=False, allow_blank=True, default="")
    provider_message_attachment = serializers.FileField(required=False, allow_null=True, validators=[validate_pdf])


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField()


class AttachmentResponseSerializer(serializers.Serializer):
    attachment = serializers.URLField(allow_null=True)
