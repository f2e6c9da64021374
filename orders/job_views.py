"""/api/marketplace-order-jobs/: bulk resubmit runs (and automatic recovery runs) — state, progress, report,
and pause / resume / cancel (DESIGN §7).

Staff and support users see every job; everyone else sees the jobs they started (others' are a 404).
Pausing, resuming and canceling is for staff and the job's author (403 for a support user).
"""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core import jobs
from core.api.filters import RepeatedCharFilter
from core.api.lookups import UUIDLookupMixin
from core.api.schema import FIELD_PARAM, errors, list_and_retrieve, responses
from core.models import Job, JobItem
from orders import dispatch
from orders.serializers.bulk import JobDetailsSerializer, JobItemSerializer, JobSerializer
from orders.services.batch import BULK_RETRY
from permissions.drf import ActionPolicyPermission
from permissions.policies import can_manage_job, sees_everything

ORDER_JOB_KINDS = (BULK_RETRY,)
JOB_ACTION_RESPONSES = {**responses({200: JobDetailsSerializer}, 403, 404), **errors(409)}


def job_list_for(user) -> QuerySet[Job]:
    """The order jobs `user` may see: all for staff and support, else the ones the user started."""
    queryset = Job.objects.filter(kind__in=ORDER_JOB_KINDS).select_related("created_by")
    if sees_everything(user):
        return queryset
    if user is None or not user.is_authenticated:
        return queryset.none()
    return queryset.filter(created_by=user)


class JobFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=Job.States.choices, distinct=False)
    kind = RepeatedCharFilter()

    class Meta:
        model = Job
        fields: list[str] = []


class JobItemFilter(django_filters.FilterSet):
    outcome = django_filters.MultipleChoiceFilter(choices=JobItem.Outcomes.choices, distinct=False)
    reason = RepeatedCharFilter()

    class Meta:
        model = JobItem
        fields: list[str] = []


@extend_schema_view(**list_and_retrieve(JobSerializer))
class JobViewSet(UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    permission_classes = [ActionPolicyPermission]
    action_policies = {
        "list": None,
        "retrieve": None,
        "report": None,
        "pause": can_manage_job,
        "resume": can_manage_job,
        "cancel": can_manage_job,
    }

    def get_queryset(self):
        return job_list_for(self.request.user)

    def get_serializer_class(self):
        return JobSerializer if self.action == "list" else JobDetailsSerializer

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _answer(self, job: Job) -> Response:
        job.refresh_from_db()
        return Response(JobDetailsSerializer(job, context=self.get_serializer_context()).data)

    @extend_schema(parameters=[FIELD_PARAM], responses=responses({200: JobDetailsSerializer}, 404))
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        filters=False,
        parameters=[FIELD_PARAM],
        responses=responses({200: JobItemSerializer(many=True)}, 400, 404),
        description="The job's orders and what happened to each, paged; `?outcome=skipped&reason=changed`.",
    )
    @action(detail=True, methods=["get"])
    def report(self, request, uuid=None):
        job = self.get_object()
        filterset = JobItemFilter(request.query_params, queryset=job.items.order_by("id"), request=request)
        if not filterset.is_valid():
            return Response(filterset.errors, status=400)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(
            JobItemSerializer(page, many=True, context=self.get_serializer_context()).data
        )

    @extend_schema(request=None, responses=JOB_ACTION_RESPONSES)
    @action(detail=True, methods=["post"])
    def pause(self, request, uuid=None):
        return self._answer(jobs.job_pause(job=self.get_object()))

    @extend_schema(request=None, responses=JOB_ACTION_RESPONSES)
    @action(detail=True, methods=["post"])
    def resume(self, request, uuid=None):
        job = jobs.job_resume(job=self.get_object())
        dispatch.enqueue_job(job_id=job.pk)  # after commit: a worker (or, embedded, a thread) runs the rest
        return self._answer(job)

    @extend_schema(request=None, responses=JOB_ACTION_RESPONSES)
    @action(detail=True, methods=["post"])
    def cancel(self, request, uuid=None):
        return self._answer(jobs.job_cancel(job=self.get_object()))
