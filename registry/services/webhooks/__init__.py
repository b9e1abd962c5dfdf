"""Webhooks: subscriptions, events queued beside the writes that cause them (an outbox), and
their signed, retried delivery after commit."""

from typing import TYPE_CHECKING

from registry.exports import lazy_surface

if TYPE_CHECKING:
    from registry.services.webhooks.delivery import Dispatcher, signature
    from registry.services.webhooks.events import (
        QUEUED,
        advisory_published,
        status_became_lacking,
        variant_added,
    )
    from registry.services.webhooks.subscriptions import (
        add_webhook,
        list_deliveries,
        list_webhooks,
        remove_webhook,
    )

__all__, __getattr__ = lazy_surface(__name__, __file__)
