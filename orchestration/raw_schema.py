"""What the pipeline lands: every raw object, its fields, their value kinds, and its keys.

This is the one registry of source shapes (SPEC 1.2). The extractors (demo, files, api)
land through it, the files source validates against it, and the dbt staging models read
the columns it guarantees: every field listed here exists in every raw batch (null when an
export lacks it), so optional columns always compile downstream.

Raw values are stored as text exactly as the source wrote them (API field names, API value
formats); staging does the typing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a field's text is checked at landing and cast in staging."""

    TEXT = "text"
    BOOLEAN = "boolean"  # true/false or 1/0, any case
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"  # YYYY-MM-DD
    DATETIME = "datetime"  # ISO 8601 or Data Export's 'YYYY-MM-DD HH:MM:SS', UTC
    EPOCH_OR_ISO = "epoch_or_iso"  # HubSpot: epoch milliseconds or an ISO string
    JSON = "json"  # nested JSON kept as text (HubSpot properties, form values)


@dataclass(frozen=True)
class RawObject:
    system: str  # salesforce | hubspot | spend
    name: str  # the API's object name, also the raw folder name
    fields: dict[str, Kind]
    required: tuple[str, ...]
    key: tuple[str, ...]  # what identifies one record across versions
    version: str | None = None  # the field whose greatest value marks the current version
    description: str = ""
    extra_allowed: bool = True
    history: bool = False  # Salesforce history objects extract incrementally on CreatedDate

    @property
    def folder(self) -> str:
        return f"{self.system}/{self.name}"

    @property
    def asset_name(self) -> str:
        """Dagster asset / dbt source table name, e.g. raw_salesforce__lead."""
        return f"{self.system}__{self.name.lower()}"


# Short names keep the field tables below readable.
T, B, I, N, D, DT = Kind.TEXT, Kind.BOOLEAN, Kind.INTEGER, Kind.NUMBER, Kind.DATE, Kind.DATETIME  # noqa: E741


def _sf(name: str, fields: dict[str, Kind], required: tuple[str, ...] = ("Id",), *, key=("Id",),
        version: str | None = "SystemModstamp", history: bool = False, description: str = "") -> RawObject:
    return RawObject("salesforce", name, fields, required, key, version, description, history=history)


SALESFORCE_OBJECTS: tuple[RawObject, ...] = (
    _sf("User", {"Id": T, "Name": T, "Email": T, "Department": T, "IsActive": B, "SystemModstamp": DT},
        description="CRM users: the sales reps who own leads, contacts and opportunities."),
    _sf("Account", {"Id": T, "Name": T, "Website": T, "Industry": T, "NumberOfEmployees": I,
                    "BillingCountry": T, "OwnerId": T, "CreatedDate": DT, "IsDeleted": B, "SystemModstamp": DT},
        description="Companies."),
    _sf("Lead", {"Id": T, "Email": T, "Company": T, "Title": T, "Status": T, "LeadSource": T, "Industry": T,
                 "NumberOfEmployees": I, "Country": T, "OwnerId": T, "CreatedDate": DT, "IsConverted": B,
                 "ConvertedDate": D, "ConvertedAccountId": T, "ConvertedContactId": T,
                 "ConvertedOpportunityId": T, "IsDeleted": B, "SystemModstamp": DT},
        description="Leads: people not yet converted to a contact."),
    _sf("LeadHistory", {"Id": T, "LeadId": T, "Field": T, "OldValue": T, "NewValue": T, "CreatedDate": DT},
        ("Id", "LeadId"), version=None, history=True,
        description="Field history of leads (Status changes drive SAL/SQL/disqualified/recycled)."),
    _sf("Contact", {"Id": T, "AccountId": T, "Email": T, "Title": T, "LeadSource": T, "OwnerId": T,
                    "CreatedDate": DT, "IsDeleted": B, "SystemModstamp": DT},
        description="Contacts: people at accounts, incl. converted leads."),
    _sf("Opportunity", {"Id": T, "AccountId": T, "Name": T, "StageName": T, "Amount": N, "CurrencyIsoCode": T,
                        "CloseDate": D, "IsClosed": B, "IsWon": B, "LeadSource": T, "CampaignId": T, "Type": T,
                        "OwnerId": T, "CreatedDate": DT, "IsDeleted": B, "SystemModstamp": DT},
        description="Deals."),
    _sf("OpportunityHistory", {"Id": T, "OpportunityId": T, "StageName": T, "Amount": N, "CloseDate": D,
                               "CreatedDate": DT, "IsDeleted": B, "SystemModstamp": DT},
        ("Id", "OpportunityId"), history=True, description="Stage history of opportunities."),
    _sf("OpportunityContactRole", {"Id": T, "OpportunityId": T, "ContactId": T, "Role": T, "IsPrimary": B,
                                   "CreatedDate": DT, "IsDeleted": B, "SystemModstamp": DT},
        ("Id", "OpportunityId", "ContactId"), description="Which contacts take part in which opportunity."),
    _sf("OpportunityLineItem", {"Id": T, "OpportunityId": T, "Product2Id": T, "Quantity": N, "ListPrice": N,
                                "UnitPrice": N, "TotalPrice": N, "IsDeleted": B, "SystemModstamp": DT},
        ("Id", "OpportunityId"), description="Products sold on opportunities (list vs sold price)."),
    _sf("Campaign", {"Id": T, "Name": T, "Type": T, "StartDate": D, "EndDate": D, "BudgetedCost": N,
                     "ActualCost": N, "IsDeleted": B, "SystemModstamp": DT},
        description="Marketing campaigns."),
    _sf("CampaignMember", {"Id": T, "CampaignId": T, "LeadId": T, "ContactId": T, "Status": T,
                           "HasResponded": B, "FirstRespondedDate": D, "CreatedDate": DT, "IsDeleted": B,
                           "SystemModstamp": DT},
        ("Id", "CampaignId"), description="Leads and contacts in campaigns; responses are touchpoints."),
    _sf("Task", {"Id": T, "WhoId": T, "OwnerId": T, "Subject": T, "Type": T, "Status": T, "CreatedDate": DT,
                 "IsDeleted": B, "SystemModstamp": DT},
        description="Sales activities (calls, emails): the first one after MQL is the response."),
    _sf("Event", {"Id": T, "WhoId": T, "OwnerId": T, "Subject": T, "Type": T, "StartDateTime": DT,
                  "CreatedDate": DT, "IsDeleted": B, "SystemModstamp": DT},
        description="Sales meetings."),
    _sf("DatedConversionRate", {"Id": T, "IsoCode": T, "ConversionRate": N, "StartDate": D, "NextStartDate": D,
                                "SystemModstamp": DT},
        ("IsoCode", "ConversionRate", "StartDate"), key=("IsoCode", "StartDate"),
        description="Dated exchange rates (advanced currency management)."),
)

EO = Kind.EPOCH_OR_ISO
HUBSPOT_CONTACT_PROPERTIES: tuple[str, ...] = (
    "email", "firstname", "lastname", "company", "jobtitle", "lifecyclestage", "hs_lead_status",
    "hubspotscore", "hs_analytics_source", "hs_analytics_source_data_1", "hs_analytics_first_timestamp",
    "hs_lifecyclestage_marketingqualifiedlead_date", "salesforceleadid", "salesforcecontactid",
    "createdate", "lastmodifieddate",
)

HUBSPOT_OBJECTS: tuple[RawObject, ...] = (
    RawObject("hubspot", "contacts",
              {"id": T, "properties": Kind.JSON, "createdAt": EO, "updatedAt": EO, "archived": B},
              ("id",), ("id",), "updatedAt",
              "CRM v3 contacts; `properties` holds the property map as JSON text."),
    RawObject("hubspot", "email_events",
              {"id": T, "type": T, "recipient": T, "created": EO, "emailCampaignId": T},
              ("id",), ("id",), None, "Marketing email events (OPEN, CLICK, ...)."),
    RawObject("hubspot", "forms", {"guid": T, "id": T, "name": T}, (), ("guid", "id"), None,
              "Forms (v2 carries guid, v3 carries id)."),
    RawObject("hubspot", "form_submissions",
              {"formGuid": T, "submittedAt": EO, "pageUrl": T, "values": Kind.JSON},
              ("formGuid",), ("formGuid", "submittedAt", "values"), None,
              "Form submissions; `values` is the [{name, value}] list as JSON text."),
    RawObject("hubspot", "marketing_emails", {"id": T, "name": T, "campaign": T}, ("id",), ("id",), None,
              "Marketing emails; email events link to them by emailCampaignId."),
)

SPEND_OBJECTS: tuple[RawObject, ...] = (
    RawObject("spend", "ad_spend", {"date": D, "channel": T, "campaign_name": T, "spend": N, "currency": T},
              ("date", "campaign_name", "spend"), ("date", "channel", "campaign_name", "currency"), None,
              "Daily ad spend per campaign (no API: read from the drop folder)."),
)

RAW_OBJECTS: tuple[RawObject, ...] = SALESFORCE_OBJECTS + HUBSPOT_OBJECTS + SPEND_OBJECTS

# Columns every landed row carries besides the source's own fields.
LOADED_AT = "_loaded_at"  # when the batch was landed (UTC timestamp)
BATCH_ID = "_batch_id"  # sortable batch id: later batches sort later
SOURCE_FILE = "_source_file"  # the file or request the record came from
SOURCE_ROW = "_source_row"  # the record's line / position in it (1-based)
LINEAGE_COLUMNS = (LOADED_AT, BATCH_ID, SOURCE_FILE, SOURCE_ROW)

# Records that could not be parsed land here instead, with the reason (never dropped).
QUARANTINE = RawObject(
    "quarantine", "records",
    {"system": T, "object": T, "source_file": T, "source_row": I, "field": T, "reason": T, "record": T},
    (), (), None, "Records that could not be parsed, with file, row, field and reason.",
)


def raw_object(system: str, name: str) -> RawObject:
    for obj in RAW_OBJECTS:
        if obj.system == system and obj.name.lower() == name.lower():
            return obj
    raise KeyError(f"no raw object {system}/{name}")


def with_custom_fields(obj: RawObject, custom_fields: list[str]) -> RawObject:
    """The object with org-specific custom fields (e.g. Lead.Disqualification_Reason__c) added as text."""
    if not custom_fields:
        return obj
    fields = dict(obj.fields)
    for name in custom_fields:
        fields.setdefault(name, Kind.TEXT)
    return RawObject(obj.system, obj.name, fields, obj.required, obj.key, obj.version, obj.description,
                     obj.extra_allowed, obj.history)
