"""Bulk resubmit (DESIGN §7, seed 003): the request body, the answers, and jobs on the wire."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core import jobs
from core.api.fields import HexUUIDField
from core.api.json_values import text_problem
from core.api.links import LinkField, api_link
from core.api.representation import RepresentationMixin
from core.models import Job, JobItem

MAX_UUIDS = 10_000  # more than that: select with filters
JOBS = "marketplace-order-jobs"


class BulkRetrySerializer(serializers.Serializer):
    """What to resubmit: the erred orders the query's filters select, or the listed ones."""

    dry_run = serializers.BooleanField(default=False, help_text="Only report what would be resubmitted.")
    uuids = serializers.ListField(
        child=HexUUIDField(),
        required=False,
        allow_empty=False,
        max_length=MAX_UUIDS,
        help_text="These orders (hex or dashed uuids), further narrowed by the query's filters; orders that "
        "are not erred are reported as skipped (not_erred).",
    )
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="Why; kept on the job and events."
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # a misspelt key ("uuid") must not silently widen the selection to every erred order
        if isinstance(data, dict) and (unknown := sorted(set(data) - set(self.fields))):
            raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)

    def validate_reason(self, value: str) -> str:
        if (problem := text_problem(value)) is not None:
            raise serializers.ValidationError(problem)
        return value

    def validate_uuids(self, value: list) -> list:
        return list(dict.fromkeys(value))  # repeated uuids count once


class SkippedSerializer(serializers.Serializer):
    uuid = serializers.CharField(help_text="The order's uuid (hex).")
    reason = serializers.CharField(
        help_text="not_erred, not_permitted, type_not_supported, changed, not_found, attempt_limit or canceled."
    )


class OfferingCountSerializer(serializers.Serializer):
    offering_uuid = serializers.CharField()
    name = serializers.CharField()
    count = serializers.IntegerField()


class ErrorCountSerializer(serializers.Serializer):
    offering_uuid = serializers.CharField()
    error = serializers.CharField(help_text="The error message, normalised (numbers, ids and addresses masked).")
    count = serializers.IntegerField()


class BulkRetryReportSerializer(serializers.Serializer):
    """The answer of a dry run (with the groupings) or of a finished small run (with its job)."""

    dry_run = serializers.BooleanField()
    matched = serializers.IntegerField(help_text="Orders selected.")
    retried = serializers.ListField(
        child=serializers.CharField(), help_text="Uuids resubmitted (on a dry run: that would be)."
    )
    skipped = SkippedSerializer(many=True)
    job = serializers.URLField(required=False, help_text="The job of a real run.")
    by_offering = OfferingCountSerializer(many=True, required=False, help_text="Dry run: would-be retried.")
    by_error = ErrorCountSerializer(many=True, required=False, help_text="Dry run: by offering and error.")
    skipped_by_reason = serializers.DictField(child=serializers.IntegerField(), required=False)


class JobLinkSerializer(serializers.Serializer):
    job = serializers.URLField(help_text="GET it for state, progress and, when finished, the report.")


class JobReportSerializer(serializers.Serializer):
    retried = serializers.ListField(child=serializers.CharField())
    skipped = SkippedSerializer(many=True)


class JobSerializer(RepresentationMixin, serializers.ModelSerializer):
    """A bulk resubmit (or automatic recovery) run: state, progress and, when finished, its report."""

    uuid = HexUUIDField(read_only=True)
    url = LinkField(JOBS, source="uuid")
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Null for the system's jobs."
    )
    retried = serializers.IntegerField(source="succeeded", read_only=True)
    progress = serializers.FloatField(read_only=True, help_text="processed / total, from 0 to 1.")
    # not read_only: the schema must not call them required, they are left out until they happen
    started_at = serializers.DateTimeField(required=False)
    finished_at = serializers.DateTimeField(required=False)

    class Meta:
        model = Job
        fields = (
            "uuid", "url", "kind", "state", "reason", "created_by", "total", "processed", "retried", "skipped",
            "progress", "rate_per_second", "started_at", "finished_at", "created", "summary", "error",
        )  # fmt: skip
        read_only_fields = fields
        omit_when_empty = ("started_at", "finished_at")


@extend_schema_field(JobReportSerializer)
class JobReportField(serializers.Field):
    """A finished job's report (one query); absent while it runs. A 10k-order report pages at …/report/."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", required=False, **kwargs)

    def to_representation(self, job: Job) -> dict[str, Any] | None:
        if job.state not in Job.FINAL_STATES:
            return None
        report = jobs.job_report(job)
        return {"retried": report["succeeded"], "skipped": report["skipped"]}


class JobDetailsSerializer(JobSerializer):
    """A job with its report once it is finished (the same shape as a small run's answer)."""

    report = JobReportField(help_text="When finished: the orders retried and skipped.")

    class Meta(JobSerializer.Meta):
        fields = (*JobSerializer.Meta.fields, "report")
        read_only_fields = fields
        omit_when_empty = (*JobSerializer.Meta.omit_when_empty, "report")


class JobItemSerializer(RepresentationMixin, serializers.ModelSerializer):
    """One order of a job and what happened to it."""

    uuid = HexUUIDField(source="subject_uuid", read_only=True, help_text="The order's uuid.")
    order = LinkField("marketplace-orders", source="subject_uuid")
    processed_at = serializers.DateTimeField(required=False)

    class Meta:
        model = JobItem
        fields = ("uuid", "order", "outcome", "reason", "detail", "processed_at")
        read_only_fields = fields
        omit_when_empty = ("processed_at",)


def job_link(context: dict[str, Any], job: Job) -> str:
    return api_link(context, JOBS, job.uuid)
