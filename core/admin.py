"""Staff admin for outbound deliveries (callbacks, with every attempt inline) and for jobs (live progress,
pause/resume/cancel, the per-item report); both read-only: services write them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core import jobs
from core.admin_base import ReadOnlyAdmin, ReadOnlyTabularInline
from core.models import Delivery, DeliveryAttempt, Job, JobItem


def deliveries_link(subject_uuid: uuid.UUID) -> str:
    """A link to the deliveries about one subject, with their count (an order's admin page shows it)."""
    count = Delivery.objects.filter(subject_uuid=subject_uuid).count()
    url = reverse("admin:core_delivery_changelist") + f"?q={subject_uuid.hex}"
    return format_html('<a href="{}">{} {}</a>', url, count, "delivery" if count == 1 else "deliveries")


class DeliveryAttemptInline(ReadOnlyTabularInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "duration_ms", "status_code", "error", "response_excerpt")
    readonly_fields = fields
    ordering = ("number",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created", "topic", "subject_type", "subject_hex", "url", "state", "attempts", "last_status",
        "next_attempt_at", "delivered_at",
    )  # fmt: skip
    list_filter = ("state", "topic", "subject_type", "created")
    search_fields = ("url", "last_error")
    uuid_search_fields = ("subject_uuid", "uuid")
    date_hierarchy = "created"
    fields = (
        "uuid_hex", "topic", "subject_type", "subject_hex", "url", "payload", "state", "attempts", "max_attempts",
        "next_attempt_at", "delivered_at", "last_status", "last_error", "created", "modified",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (DeliveryAttemptInline,)

    @admin.display(description="subject", ordering="subject_uuid")
    def subject_hex(self, obj: Delivery) -> str:
        return obj.subject_uuid.hex


# --- jobs -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobKindAdmin:
    """How the admin shows and restarts the jobs of one kind; the app that owns the kind registers it
    (core knows no kinds: orders registers bulk resubmit from its admin)."""

    title: str  # what the job does, for people ("Resubmit for provisioning")
    subject_url: Callable[[int], str]  # the admin page of an item's subject, by primary key
    reason_text: Mapping[str, str] = field(default_factory=dict)  # coded skip reason → text
    send: Callable[[int], None] | None = None  # hands a resumed job to a worker (after commit)
    subject_name: str = "item"


_JOB_KINDS: dict[str, JobKindAdmin] = {}
REPORT_LIMIT = 500  # items listed per outcome on a job's page; the counts cover all of them


def register_job_kind_admin(kind: str, presentation: JobKindAdmin) -> None:
    _JOB_KINDS[kind] = presentation


def job_status(job: Job) -> dict[str, Any]:
    """What the job page's progress bar polls: state and counts."""
    return {
        "uuid": job.uuid.hex,
        "kind": job.kind,
        "state": job.state,
        "state_label": job.get_state_display(),
        "finished": job.state in Job.FINAL_STATES,
        "total": job.total,
        "processed": job.processed,
        "succeeded": job.succeeded,
        "skipped": job.skipped,
        "percent": round(job.progress * 100, 1),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "error": job.error,
    }


def job_report_rows(job: Job, presentation: JobKindAdmin | None) -> dict[str, Any]:
    """The per-item report of a job's page: skipped items by reason, then succeeded ones, with links."""
    reasons = dict(presentation.reason_text) if presentation else {}

    def rows(outcome: str) -> list[dict[str, Any]]:
        items = job.items.filter(outcome=outcome).order_by("id")[:REPORT_LIMIT]
        return [
            {
                "uuid": item.subject_uuid.hex,
                "url": presentation.subject_url(item.subject_id) if presentation else "",
                "reason": item.reason,
                "reason_text": reasons.get(item.reason, item.reason),
                "detail": item.detail,
                "processed_at": item.processed_at,
            }
            for item in items
        ]

    by_reason = (
        job.items.filter(outcome=JobItem.Outcomes.SKIPPED).values("reason").annotate(n=Count("id")).order_by("-n")
    )
    return {
        "succeeded": rows(JobItem.Outcomes.SUCCEEDED),
        "skipped": rows(JobItem.Outcomes.SKIPPED),
        "skipped_by_reason": [
            {"reason": r["reason"], "text": reasons.get(r["reason"], r["reason"]), "count": r["n"]} for r in by_reason
        ],
        "limit": REPORT_LIMIT,
    }


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Jobs (bulk resubmits, automatic recovery): state, a live progress bar, pause/resume/cancel, the report."""

    list_display = (
        "short_uuid",
        "kind_title",
        "state",
        "progress_bar",
        "creator",
        "short_reason",
        "created",
        "finished_at",
    )
    list_filter = ("state", "kind", "created")
    list_select_related = ("created_by",)
    search_fields = ("reason", "created_by__username")
    date_hierarchy = "created"
    # state and counts are in the live panel above the fields (core/templates/admin/core/job/change_form.html)
    fields = (
        "uuid_hex", "kind_title", "creator", "reason", "rate_per_second", "created", "started_at", "heartbeat_at",
        "finished_at", "error", "params", "summary",
    )  # fmt: skip
    readonly_fields = fields
    change_form_template = "admin/core/job/change_form.html"

    @admin.display(description="job", ordering="uuid")
    def short_uuid(self, obj: Job) -> str:
        return obj.uuid.hex[:12]

    @admin.display(description="kind", ordering="kind")
    def kind_title(self, obj: Job) -> str:
        presentation = _JOB_KINDS.get(obj.kind)
        return presentation.title if presentation else obj.kind

    @admin.display(description="progress", ordering="processed")
    def progress_bar(self, obj: Job) -> str:
        return format_html(
            '<span class="job-mini-progress" title="{}%"><span style="width: {}%"></span></span> {} / {}',
            round(obj.progress * 100, 1),
            round(obj.progress * 100),
            obj.processed,
            obj.total,
        )

    @admin.display(description="created by", ordering="created_by__username")
    def creator(self, obj: Job) -> str:
        return obj.created_by.get_username() if obj.created_by else "system"

    @admin.display(description="reason")
    def short_reason(self, obj: Job) -> str:
        return obj.reason if len(obj.reason) <= 60 else f"{obj.reason[:59]}…"

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/status/", wrap(self.status_view), name="core_job_status"),
            path("<path:object_id>/pause/", wrap(self.control_view), {"verb": "pause"}, name="core_job_pause"),
            path("<path:object_id>/resume/", wrap(self.control_view), {"verb": "resume"}, name="core_job_resume"),
            path("<path:object_id>/cancel/", wrap(self.control_view), {"verb": "cancel"}, name="core_job_cancel"),
            *super().get_urls(),
        ]

    def _job(self, request: HttpRequest, object_id: str) -> Job:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = self.get_object(request, object_id)
        if job is None:
            raise Http404("No such job.")
        return job

    def status_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """The job's state and counts as JSON (the progress bar polls it every second)."""
        response = JsonResponse(job_status(self._job(request, object_id)))
        response["Cache-Control"] = "no-store"
        return response

    def control_view(self, request: HttpRequest, object_id: str, verb: str) -> HttpResponse:
        """Pause, resume or cancel (POST); a refused change (job already finished, …) is a message."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        job = self._job(request, object_id)
        try:
            if verb == "pause":
                jobs.job_pause(job=job)
                self.message_user(request, "Paused: the job stops after the items in flight.", messages.SUCCESS)
            elif verb == "cancel":
                jobs.job_cancel(job=job)
                self.message_user(request, "Canceled: the items not reached are reported as skipped.", messages.SUCCESS)
            else:
                jobs.job_resume(job=job)
                presentation = _JOB_KINDS.get(job.kind)
                if presentation is not None and presentation.send is not None:
                    presentation.send(job.pk)
                    self.message_user(request, "Resumed.", messages.SUCCESS)
                else:  # the stalled-job sweep hands it to a worker
                    self.message_user(request, "Resumed; a worker picks it up with the next sweep.", messages.WARNING)
        except jobs.JobStateConflict as exc:
            self.message_user(request, exc.message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:core_job_change", args=[job.pk]))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        job = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if job is not None:
            presentation = _JOB_KINDS.get(job.kind)
            title = presentation.title if presentation else job.kind
            extra.update(
                title=f"Job: {title}",
                subtitle=f"{job.uuid.hex} · {job.kind}",
                job=job,
                job_title=title,
                job_status=job_status(job),
                job_subject_name=presentation.subject_name if presentation else "item",
                job_report=job_report_rows(job, presentation) if job.state in Job.FINAL_STATES else None,
                job_can_pause=job.state in (Job.States.QUEUED, Job.States.RUNNING),
                job_can_resume=job.state == Job.States.PAUSED,
                job_can_cancel=job.state not in Job.FINAL_STATES,
            )
        return super().change_view(request, object_id, form_url, extra)
