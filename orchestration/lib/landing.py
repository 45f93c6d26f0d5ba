"""Every landing zone dbt reads, so the warehouse can be built on any home, whatever has synced yet."""

from pathlib import Path

from connectors.apis.hubspot import ENTITIES as HUBSPOT_ENTITIES
from connectors.apis.hubspot import landing_zone as hubspot_zone
from connectors.apis.pipedrive import ENTITIES as PIPEDRIVE_ENTITIES
from connectors.apis.pipedrive import landing_zone as pipedrive_zone
from connectors.apis.sendgrid_suppressions import ENTITIES as SENDGRID_SUPPRESSION_LISTS
from connectors.apis.sendgrid_suppressions import landing_zone as sendgrid_zone
from connectors.apis.shopify import ENTITIES as SHOPIFY_ENTITIES
from connectors.apis.shopify import landing_zone as shopify_zone
from connectors.apis.typeform import responses_zone, walks_zone
from connectors.core.landing import LandingZone
from connectors.files.inbox import quarantine_zone
from connectors.files.orders import orders_zone
from connectors.webhooks.pickup import events_zone, replies_zone
from orchestration.lib.identity import customer_id_map_zone
from orchestration.lib.outreach import suppressions_zone
from orchestration.lib.retired_batches import ensure_retired_batches_file
from orchestration.lib.send_ledger import ledger_zones


def all_landing_zones(landing_dir: Path) -> list[LandingZone]:
    return [
        LandingZone(landing_dir, "spreadsheets", "contacts"),
        orders_zone(landing_dir),
        LandingZone(landing_dir, "forms", "submissions"),
        *(pipedrive_zone(landing_dir, entity) for entity in PIPEDRIVE_ENTITIES),
        responses_zone(landing_dir),
        walks_zone(landing_dir),
        *(hubspot_zone(landing_dir, entity) for entity in HUBSPOT_ENTITIES),
        *(shopify_zone(landing_dir, entity) for entity in SHOPIFY_ENTITIES),
        customer_id_map_zone(landing_dir),
        *ledger_zones(landing_dir),
        suppressions_zone(landing_dir),
        *(sendgrid_zone(landing_dir, entity) for entity in SENDGRID_SUPPRESSION_LISTS),
        events_zone(landing_dir),
        replies_zone(landing_dir),
        quarantine_zone(landing_dir),
    ]


def prepare_landing(landing_dir: Path) -> None:
    """Give every zone its directory and zero-row schema file: a source that never landed reads as empty; and
    the retired batches file beside landing, which every input source reads."""
    for zone in all_landing_zones(landing_dir):
        zone.prepare()
    ensure_retired_batches_file(landing_dir.parent)
