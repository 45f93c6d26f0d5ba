"""SendGrid's posts back to us: the Event Webhook and Inbound Parse (docs/receiver.md).

- ``receiver``: the ASGI app (Starlette, served by uvicorn) that verifies each post and spools it durably
  before answering 2xx;
- ``spool``: the raw request spool (``store_event_request``, ``store_inbound_request``, also for replays);
- ``inbound``: reading an Inbound Parse multipart body;
- ``pickup``: ``collect_webhook_requests``, spool files into the landing zones dbt reads.

Plain Python: no Dagster, no DuckDB.
"""

from connectors.webhooks.pickup import CollectReport, collect_webhook_requests
from connectors.webhooks.spool import InboundAttachment, store_event_request, store_inbound_request

__all__ = [
    "CollectReport",
    "InboundAttachment",
    "collect_webhook_requests",
    "store_event_request",
    "store_inbound_request",
]
