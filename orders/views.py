"""/api/marketplace-orders/: every order endpoint of seed 002 plus retry, events and HEAD count.

Each action: get_object (404 invisible, 403 no right) → input serializer (400) → service (403/405/409)
→ answer with the exact status and body the published clients expect (clients.md §C.3).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import IntegerField, Q, QuerySet, UUIDField
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from core.api.bodies import validated
from core.api.lookups import UUIDLookupMixin
from core.api.renderers import plain_json
from core.api.representation import requested_fields
from core.api.rows import compile_rows
from core.api.schema import FIELD_PARAM, list_and_retrieve, responses
from core.errors import NotPermitted
from core.models import Job
from core.statements import Param
from offerings.models import Offering
from offerings.selectors import offering_details
from offerings.serializers import PublicOfferingDetailsSerializer
from orders import selectors, services
from orders.actions import ACTIONS
from orders.api_docs import BULK_RETRY_RESPONSES, CREATE_EXAMPLES, IDEMPOTENCY_KEY, UPDATE_RESPONSES
from orders.attachments import download_url
from orders.counts import fast_order_count
from orders.filters import OrderFilter
from orders.models import Order
from orders.serializers import bulk as b
from orders.serializers import inputs as i
from orders.serializers.details import OrderDetailsSerializer
from orders.serializers.events import OrderEventSerializer
from orders.serializers.resources import ResourceSerializer
from orders.services import batch
from orders.states import OrderState as S
from permissions.drf import ActionPolicyPermission
from permissions.policies import can_retry_orders_somewhere
from permissions.scoping import visible_condition, visible_ids

APPROVED_DETAIL = {
    S.PENDING_PROJECT: "Order is pending project activation.",
    S.PENDING_PROVIDER: "Order is pending provider approval.",
    S.PENDING_START_DATE: "Order is pending start date.",
    S.EXECUTING: "Order has been approved and is being processed.",
}
DETAIL = i.DetailSerializer


# Conditions of the order statements compiled once per connection (RowPlan.rows_where, core/statements.py)
def _by_uuid() -> Q:
    return Q(uuid=Param("uuid", UUIDField()))


def _visible_by_uuid() -> Q:
    return _by_uuid() & visible_condition()


def _by_pk() -> Q:
    return Q(pk=Param("pk", IntegerField()))


def _detail(message: str, code: int = status.HTTP_200_OK) -> Response:
    return Response({"detail": message}, status=code)


@extend_schema_view(
    **list_and_retrieve(OrderDetailsSerializer),
    create=extend_schema(
        request=i.OrderCreateSerializer, examples=CREATE_EXAMPLES,
        responses=responses({201: OrderDetailsSerializer}, 400, 403),
    ),
    destroy=extend_schema(responses=responses({204: None}, 403, 404, 409)),
    update=extend_schema(request=i.OrderUpdateSerializer, responses=UPDATE_RESPONSES),
    partial_update=extend_schema(request=i.OrderUpdateSerializer, responses=UPDATE_RESPONSES),
)  # fmt: skip
class OrderViewSet(
    UUIDLookupMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = OrderDetailsSerializer
    filterset_class = OrderFilter
    permission_classes = [ActionPolicyPermission]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    action_policies = {
        "list": None,
        "retrieve": None,
        "create": None,  # checked by the service against the project in the body
        "offering": None,
        "resource": None,
        "events": None,
        "bulk_retry": None,  # a real run is checked in the action; each order again by the executor
        "update": ACTIONS["update"].policy,
        "partial_update": ACTIONS["update"].policy,
        **{name: a.policy for name, a in ACTIONS.items()},
    }

    def get_queryset(self):
        if self.action in ("list", "retrieve"):  # read as compiled rows (order_rows): the plan joins
            return selectors.order_list_for(self.request.user, joins=())
        return selectors.order_list_for(self.request.user)

    def filter_queryset(self, queryset):
        # list filters apply to the list only: a stray ?state=… must not hide the order from an action
        return super().filter_queryset(queryset) if self.action in ("list", "bulk_retry") else queryset

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        if request.method == "HEAD":
            return Response(headers={"X-Result-Count": str(self.result_count(queryset))})
        plan = compile_rows(OrderDetailsSerializer, requested_fields(request))
        rows = self.paginator.paginate_rows(
            queryset, request, self, values=plan, count=lambda: self.result_count(queryset)
        )
        data, plain = plan.represent(rows, self.get_serializer_context())
        return plain_json(self.get_paginated_response(data), plain)

    def retrieve(self, request, *args, **kwargs):
        """One statement compiled once per connection: the order by uuid, if the caller may see it (the
        list's rule, as parameters: permissions.scoping.visible_condition)."""
        ids = visible_ids(request.user)
        where = _by_uuid if ids is None else _visible_by_uuid
        plan = compile_rows(OrderDetailsSerializer, requested_fields(request))
        rows = plan.rows_where(Order, where, using=Order.objects.db, uuid=self.lookup_uuid(), **(ids or {}))
        return self.rows_response(plan, rows)

    def result_count(self, queryset: QuerySet[Order]) -> int:
        """X-Result-Count of the filtered orders: from the order counts when every parameter filters on what
        they keep (orders/counts.py: flat in the number of orders), else COUNT(*)."""
        count = fast_order_count(self.request)
        return queryset.count() if count is None else count

    def rows_response(self, plan, rows: list, code: int = status.HTTP_200_OK) -> Response:
        """The one order of `rows` (compiled rows of `plan`) as OrderDetails, or a 404."""
        if not rows:
            raise Http404(f"No {Order._meta.object_name} matches the given query.")
        data, plain = plan.represent(rows[:1], self.get_serializer_context())
        return plain_json(Response(data[0], status=code), plain)

    def create(self, request, *args, **kwargs):
        data = validated(i.OrderCreateSerializer, request, context=self.get_serializer_context())
        data.pop("accepting_terms_of_service", None)
        order = services.order_create(actor=request.user, **data)
        plan = compile_rows(OrderDetailsSerializer)
        rows = plan.rows_where(Order, _by_pk, using=Order.objects.db, pk=order.pk)
        return self.rows_response(plan, rows, code=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        order = self.get_object()
        data = validated(i.OrderUpdateSerializer, request, partial=kwargs.get("partial", False))
        order = services.order_update(order=order, actor=request.user, **data)
        return Response(i.OrderUpdateSerializer(order).data)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.order_delete(order=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @contextmanager
    def locked_object(self) -> Iterator[Order]:
        """get_object for the actions that change the order's state: one statement reads the order under
        a row lock in the action's transaction, as visible (404) and allowed (403) as get_object answers;
        the service then writes that row without reading it again."""
        user = self.request.user
        with services.order_locked_for_write(uuid=self.lookup_uuid(), viewer=user) as order:
            if order is None:
                raise Http404(f"No {Order._meta.object_name} matches the given query.")  # as get_object says
            self.check_object_permissions(self.request, order)
            yield order

    # --- review -------------------------------------------------------------------------------

    @extend_schema(request=None, responses=responses({200: DETAIL}, 400, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def approve_by_consumer(self, request, uuid=None):
        with self.locked_object() as order:
            order = services.order_approve_by_consumer(order=order, actor=request.user)
        return _detail(APPROVED_DETAIL[order.state])

    @extend_schema(request=i.ApproveByProviderSerializer, responses=responses({200: DETAIL}, 400, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def approve_by_provider(self, request, uuid=None):
        with self.locked_object() as order:
            data = validated(i.ApproveByProviderSerializer, request)
            order = services.order_approve_by_provider(order=order, actor=request.user, **data)
        return _detail(APPROVED_DETAIL[order.state])

    @extend_schema(request=i.RejectByConsumerSerializer, responses=responses({200: DETAIL}, 400, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def reject_by_consumer(self, request, uuid=None):
        with self.locked_object() as order:
            data = validated(i.RejectByConsumerSerializer, request)
            comment = data["consumer_rejection_comment"] or data["error_message"]
            services.order_reject_by_consumer(order=order, actor=request.user, comment=comment)
        return _detail("Order has been rejected.")

    @extend_schema(request=i.RejectByProviderSerializer, responses=responses({200: DETAIL}, 400, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def reject_by_provider(self, request, uuid=None):
        with self.locked_object() as order:
            data = validated(i.RejectByProviderSerializer, request)
            comment = data["provider_rejection_comment"]
            services.order_reject_by_provider(order=order, actor=request.user, comment=comment)
        return _detail("Order has been rejected.")

    # --- provisioning -------------------------------------------------------------------------

    @extend_schema(request=None, responses=responses({200: DETAIL}, 403, 404, 405, 409))
    @action(detail=True, methods=["post"])
    def set_state_executing(self, request, uuid=None):
        with self.locked_object() as order:
            services.order_set_state_executing(order=order, actor=request.user)
        return _detail("Order is executing.")

    @extend_schema(request=None, responses=responses({200: DETAIL}, 403, 404, 405, 409))
    @action(detail=True, methods=["post"])
    def set_state_done(self, request, uuid=None):
        with self.locked_object() as order:
            services.order_set_state_done(order=order, actor=request.user)
        return _detail("Order is done.")

    @extend_schema(request=i.SetStateErredSerializer, responses=responses({200: DETAIL}, 400, 403, 404, 405, 409))
    @action(detail=True, methods=["post"])
    def set_state_erred(self, request, uuid=None):
        with self.locked_object() as order:
            data = validated(i.SetStateErredSerializer, request)
            services.order_set_state_erred(order=order, actor=request.user, **data)
        return _detail("Order is erred.")

    @extend_schema(request=None, responses=responses({200: DETAIL}, 403, 404, 405, 409))
    @action(detail=True, methods=["post"])
    def retry(self, request, uuid=None):
        with self.locked_object() as order:
            services.order_retry(order=order, actor=request.user)
        return _detail("Order has been resubmitted for processing.")

    @extend_schema(request=i.CancelSerializer, responses=responses({202: DETAIL}, 400, 403, 404, 405, 409))
    @action(detail=True, methods=["post"])
    def cancel(self, request, uuid=None):
        with self.locked_object() as order:
            data = validated(i.CancelSerializer, request)
            comment = data["termination_comment"]
            services.order_cancel(order=order, actor=request.user, comment=comment)
        return _detail("Order has been canceled.", status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=responses({204: None}, 403, 404))
    @action(detail=True, methods=["post"])
    def unlink(self, request, uuid=None):
        services.order_unlink(order=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- details ------------------------------------------------------------------------------

    @extend_schema(request=i.BackendIdSerializer, responses=responses({200: i.StatusSerializer}, 400, 403, 404))
    @action(detail=True, methods=["post"])
    def set_backend_id(self, request, uuid=None):
        order = self.get_object()
        data = validated(i.BackendIdSerializer, request)
        changed = services.order_set_backend_id(order=order, actor=request.user, **data)
        return Response({"status": f"Order backend_id has {'been' if changed else 'not been'} changed."})

    @extend_schema(
        request={"multipart/form-data": i.AttachmentSerializer, "application/json": i.AttachmentSerializer},
        responses=responses({200: i.AttachmentResponseSerializer}, 400, 403, 404, 409),
    )
    @action(detail=True, methods=["post"])
    def update_attachment(self, request, uuid=None):
        order = self.get_object()
        data = validated(i.AttachmentSerializer, request)
        order = services.order_set_attachment(order=order, actor=request.user, attachment=data["attachment"])
        return Response({"attachment": download_url(request, order.attachment)})

    @extend_schema(request=None, responses=responses({204: None}, 400, 403, 404, 409))
    @action(detail=True, methods=["post"])
    def delete_attachment(self, request, uuid=None):
        services.order_delete_attachment(order=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request={"multipart/form-data": i.ConsumerInfoSerializer, "application/json": i.ConsumerInfoSerializer},
        responses=responses({200: DETAIL}, 400, 403, 404, 409),
    )
    @action(detail=True, methods=["post"])
    def set_consumer_info(self, request, uuid=None):
        order = self.get_object()
        data = validated(i.ConsumerInfoSerializer, request)
        services.order_set_consumer_info(
            order=order, actor=request.user, message=data["consumer_message"],
            attachment=data.get("consumer_message_attachment"),
        )  # fmt: skip
        return _detail("Consumer info has been saved.")

    @extend_schema(
        request={"multipart/form-data": i.ProviderInfoSerializer, "application/json": i.ProviderInfoSerializer},
        responses=responses({200: DETAIL}, 400, 403, 404, 409),
    )
    @action(detail=True, methods=["post"])
    def set_provider_info(self, request, uuid=None):
        order = self.get_object()
        data = validated(i.ProviderInfoSerializer, request)
        services.order_set_provider_info(
            order=order, actor=request.user, message=data["provider_message"],
            url=data["provider_message_url"], attachment=data.get("provider_message_attachment"),
        )  # fmt: skip
        return _detail("Provider info has been saved.")

    # --- related ------------------------------------------------------------------------------

    @extend_schema(
        filters=False, parameters=[FIELD_PARAM], responses=responses({200: PublicOfferingDetailsSerializer}, 404)
    )
    @action(detail=True, methods=["get"])
    def offering(self, request, uuid=None):
        offering = offering_details(Offering.objects.filter(pk=self.get_object().offering_id)).get()
        return Response(PublicOfferingDetailsSerializer(offering, context=self.get_serializer_context()).data)

    @extend_schema(filters=False, responses=responses({200: ResourceSerializer}, 404))
    @action(detail=True, methods=["get"])
    def resource(self, request, uuid=None):
        resource = get_object_or_404(selectors.resource_list_for(request.user), pk=self.get_object().resource_id)
        return Response(ResourceSerializer(resource, context=self.get_serializer_context()).data)

    @extend_schema(filters=False, responses=responses({200: OrderEventSerializer(many=True)}, 404))
    @action(detail=True, methods=["get"])
    def events(self, request, uuid=None):
        page = self.paginate_queryset(selectors.order_events(self.get_object()))
        data = OrderEventSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    # --- bulk resubmit (seed 003) ---------------------------------------------------------------

    @extend_schema(
        filters=True, request=b.BulkRetrySerializer, parameters=[IDEMPOTENCY_KEY], responses=BULK_RETRY_RESPONSES
    )
    @action(detail=False, methods=["post"])
    def bulk_retry(self, request):
        """Resubmit the erred orders the filters (or `uuids`) select; dry run previews, large runs are jobs."""
        data, key = validated(b.BulkRetrySerializer, request), self._idempotency_key(request)
        orders = self._bulk_selection(request, data.get("uuids"))
        if data["dry_run"]:
            return Response(batch.retry_preview(actor=request.user, orders=orders))
        if not can_retry_orders_somewhere(request.user, Offering.objects.all()):
            raise NotPermitted("You may retry orders of no offering.")
        query, body = dict(request.query_params.lists()), {"uuids": sorted(u.hex for u in data.get("uuids", ()))}
        job, _created = batch.bulk_retry_start(
            actor=request.user, orders=orders, reason=data["reason"], params={"query": query, **body},
            idempotency_key=key, fingerprint=batch.request_fingerprint(query=query, body={**data, **body}),
        )  # fmt: skip
        return self._bulk_answer(job)

    def _bulk_selection(self, request, uuids: list | None) -> QuerySet[Order]:
        """Visible orders matching the filters: the erred ones, or the listed ones whatever their state."""
        unknown = sorted(set(request.query_params) - set(OrderFilter.base_filters))
        if unknown:  # a typo must never widen a selection
            raise ValidationError({name: ["Unknown filter."] for name in unknown})
        orders = self.filter_queryset(selectors.order_list_for(request.user, joins=()))
        return orders.filter(uuid__in=uuids) if uuids is not None else orders.filter(state=S.ERRED)

    @staticmethod
    def _idempotency_key(request) -> str:
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 255 or (key and not key.isprintable()):
            raise ValidationError({"Idempotency-Key": ["At most 255 printable characters."]})
        return key

    def _bulk_answer(self, job: Job) -> Response:
        """A run finished in the request: 200 with its report; one left to a worker: 202 with the job."""
        link = b.job_link(self.get_serializer_context(), job)
        if job.total <= settings.MARKETPLACE["BULK_RETRY_SYNC_LIMIT"] and job.state == Job.States.DONE:
            return Response({**batch.bulk_retry_report(job), "job": link})
        return Response({"job": link}, status=status.HTTP_202_ACCEPTED, headers={"Location": link})
