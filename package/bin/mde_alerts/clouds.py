"""Where each Microsoft cloud keeps its token authority, Defender API and Microsoft Graph.

One table, because these hostnames are facts about Microsoft, not logic: when Microsoft
moves a host, this is the only place to change. Sources: MicrosoftDocs/defender-docs
`defender-endpoint/gov.md`, `api/exposed-apis-list.md`, `includes/improve-request-performance.md`.
The government scopes are not spelled out in Microsoft's docs; the values below are
the ones other integrations use (see docs/FACTS in the project notes). Graph hosts per
cloud (for the Entra ID user actions): Microsoft Graph "National cloud deployments";
the scope is always `<graph host>/.default`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    key: str
    label: str
    api_base: str
    login_base: str
    scope: str
    graph_base: str = "https://graph.microsoft.com"  # COMMERCIAL_GRAPH

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_base}/.default"


COMMERCIAL_SCOPE = "https://api.securitycenter.microsoft.com/.default"
US_GOV_SCOPE = "https://securitycenter.onmicrosoft.us/windowsatpservice/.default"
COMMERCIAL_LOGIN = "https://login.microsoftonline.com"
COMMERCIAL_GRAPH = "https://graph.microsoft.com"  # commercial and GCC
US_GOV_GRAPH = "https://graph.microsoft.us"  # GCC High
DOD_GRAPH = "https://dod-graph.microsoft.us"
US_GOV_LOGIN = "https://login.microsoftonline.us"

CLOUDS: dict[str, Cloud] = {
    cloud.key: cloud
    for cloud in [
        Cloud(
            "commercial",
            "Commercial (global)",
            "https://api.security.microsoft.com",
            COMMERCIAL_LOGIN,
            COMMERCIAL_SCOPE,
        ),
        Cloud(
            "commercial_us",
            "Commercial, US geo",
            "https://us.api.security.microsoft.com",
            COMMERCIAL_LOGIN,
            COMMERCIAL_SCOPE,
        ),
        Cloud(
            "commercial_eu",
            "Commercial, EU geo",
            "https://eu.api.security.microsoft.com",
            COMMERCIAL_LOGIN,
            COMMERCIAL_SCOPE,
        ),
        Cloud(
            "commercial_uk",
            "Commercial, UK geo",
            "https://uk.api.security.microsoft.com",
            COMMERCIAL_LOGIN,
            COMMERCIAL_SCOPE,
        ),
        Cloud(
            "commercial_au",
            "Commercial, Australia geo",
            "https://au.api.security.microsoft.com",
            COMMERCIAL_LOGIN,
            COMMERCIAL_SCOPE,
        ),
        Cloud(
            "commercial_swa",
            "Commercial, Switzerland geo",
            "https://swa.api.security.microsoft.com",
            COMMERCIAL_LOGIN,
            COMMERCIAL_SCOPE,
        ),
        Cloud(
            "commercial_ina",
            "Commercial, India geo",
            "https://ina.api.security.microsoft.com",
            COMMERCIAL_LOGIN,
            COMMERCIAL_SCOPE,
        ),
        # GCC tenants sign in to the commercial authority with the commercial scope.
        Cloud(
            "gcc",
            "US Government GCC",
            "https://api-gcc.securitycenter.microsoft.us",
            COMMERCIAL_LOGIN,
            COMMERCIAL_SCOPE,
        ),
        Cloud(
            "gcc_high",
            "US Government GCC High",
            "https://api-gov.securitycenter.microsoft.us",
            US_GOV_LOGIN,
            US_GOV_SCOPE,
            US_GOV_GRAPH,
        ),
        Cloud(
            "dod",
            "US Government DoD",
            "https://api-gov.securitycenter.microsoft.us",
            US_GOV_LOGIN,
            US_GOV_SCOPE,
            DOD_GRAPH,
        ),
    ]
}


def cloud_for(key: str) -> Cloud:
    try:
        return CLOUDS[key]
    except KeyError:
        known = ", ".join(CLOUDS)
        raise ValueError(f"Unknown cloud/region {key!r}. Edit the account and pick one of: {known}.") from None
