"""An order's history entry on the wire."""

from rest_framework import serializers

from core.api.fields import SafeCharField
from orders.models import OrderEvent


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
