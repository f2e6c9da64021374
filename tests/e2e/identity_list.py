"""Parse the site-agent identity list with whichever waldur-api-client this process imports.

Usage: python identity_list.py BASE_URL TOKEN OFFERING_UUID
Prints one JSON object: the client version and, per identity, its name, compatibility status (8.1.3 has
the key; 8.1.2 keeps it as an unknown key) and whether last_restarted was parsed.
"""

import json
import sys
from importlib.metadata import version
from uuid import UUID

from waldur_api_client import AuthenticatedClient
from waldur_api_client.api.marketplace_site_agent_identities import marketplace_site_agent_identities_list
from waldur_api_client.types import Unset


def main(base_url: str, token: str, offering_uuid: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=token, timeout=30.0)
    identities = marketplace_site_agent_identities_list.sync_all(client=client, offering_uuid=UUID(offering_uuid))
    rows = []
    for identity in identities:
        compatibility = getattr(identity, "compatibility", None)
        if compatibility is None:
            compatibility = identity.additional_properties.get("compatibility", {})
        status = compatibility["status"] if isinstance(compatibility, dict) else compatibility.status.value
        restarted = identity.last_restarted
        rows.append(
            {"name": identity.name, "compatibility": status, "last_restarted": not isinstance(restarted, Unset)}
        )
    print(json.dumps({"version": version("waldur-api-client"), "identities": rows}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
