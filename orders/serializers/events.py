"""An order's history entry on the wire."""

from rest_framework import serializers

from core.api.fields import SafeCharField
from orders.models import OrderEvent
from permissions.policies import is_staff, is_support

STAFF_ONLY_PAYLOAD_KEYS = ("error_traceback",)  # a retry keeps the previous traceback: internals, for staff


class OrderEventSerializer(serializers.ModelSerializer):
    actor_username = SafeCharField(source="actor.username", allow_null=True, read_only=True)
    actor_full_name = SafeCharField(source="actor.get_full_name", allow_null=True, read_only=True)

    class Meta:
        model = OrderEvent
        fields = (
            "kind",
            "actor_username",
            "actor_full_name",
            "from_state",
            "to_state",
            "message",
            "payload",
            "created",
        )
        read_only_fields = fields

    def to_representation(self, instance: OrderEvent) -> dict:
        data = super().to_representation(instance)
        payload = data.get("payload")
        if isinstance(payload, dict) and not self._shows_internals():
            data["payload"] = {key: value for key, value in payload.items() if key not in STAFF_ONLY_PAYLOAD_KEYS}
        return data

    def _shows_internals(self) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return is_staff(user) or is_support(user)
