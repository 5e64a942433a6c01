"""SPEC 3 cases a careful reader would check, computed by hand, against fct_lead_funnel and
fct_attribution: one small raw fixture in the APIs' own shapes (Salesforce REST text values,
HubSpot CRM v3 contacts with `properties` as JSON text, epoch-millisecond event times), landed
as the extractors land it, one real dbt build.

alignment.yml defaults except mql.fit.min_employees = 10 (so one person is unfit). All times UTC.

- Alice: lead L1 (alice@acme.com) converted into contact C1 (alice.smith@acme.com, a different
  email) and opportunity O1; HubSpot contact 101 (" Alice@ACME.com ") created 01-08. One person.
  Attributes per field: lead first (owner U1, source Web, industry Software), the lead's empty
  employees / country from the contact's account A1 (250, US).
  Touches: newsletter form 01-09 10:00 (20 -> 20, utm_medium=CPC: paid_search), webinar CM1
  responded 01-12 (15 -> 35), then a tie at 01-15 00:00: Trade Show CM10 (FirstRespondedDate
  01-15) and webinar CM9 (no FirstRespondedDate, CreatedDate 01-15 00:00). 'sf_cm:CM10' sorts
  before 'sf_cm:CM9', so CM10 takes Alice exactly to 35 + 15 = 50 >= 50: the MQL touch. An
  email OPEN 01-20 (0 points, excluded from attribution).
  Response: an Event on L1 one second before mql_at does not count; a Task on the contact C1
  at 01:00 is exactly 60 minutes: bucket '5-60m', sla_met (60 <= 60).
  LeadHistory: 'Working - Contacted' 01-11 (before mql_at: not a SAL), a Rating field change
  to 'Qualified' 01-16 (not Status), Status 'Qualified' 01-20 (sql_at).
  O1 created 02-01 10:00, won, CloseDate 02-01: won_at is moved up to 02-01 10:00. A deleted
  opportunity O9 (created 01-25, contact role on C1) is no one's first opportunity.
- Bob: contact C2 only (LeadSource Outbound: not marketing sourced), account A2 (40 employees).
  Email OPEN 03-01 09:00 (first touch, 0 points), 'Contact Sales - EMEA' form 03-05 14:02:11
  (demo_request, 50: MQL on one touch; no utm and no first visit: channel other), eBook CM5
  03-20 16:45 (10). Task at 16:07:11+02:00 = 14:07:11 UTC: exactly 5 minutes, bucket '<5m'.
  O2 EUR 10000 created 04-01 08:00, lost, CloseDate 2024-06-01, the day EUR goes from 0.9 to
  1.25: 10000 / 1.25 = 8000 USD.
- Carol: lead L3 with 5 employees (< 10: unfit): a demo form gives 50 points and no MQL, so no
  first_response_at (despite a Task) and no sal_at (despite 'Working - Contacted').
  LeadHistory Nurture, Recycled, Nurture (recycled_count 3), Unqualified 06-01 (disqualified).
- Dan: lead L4 created 05-10 15:00, converted 05-10 into contact C4 without an opportunity; no
  LeadHistory: the current Status 'Qualified' counts at SystemModstamp 15:30. ConvertedDate
  05-10 is 00:00, moved up to lead_at 15:00: sql_at = min(15:30, 15:00) = 15:00. HubSpot contact
  104 without email, linked by salesforcecontactid, first visit 05-10 15:00 (ORGANIC_SEARCH):
  not strictly before sql_at, so not marketing sourced.
- Eve: lead L5 converted into O3 (empty Amount, open) created 07-02 09:00; her touches come
  later (webinar 07-03, demo form 07-04 12:00: 15 + 50 = 65, MQL at the form), so O3 gets one
  unattributed row of amount 0 and Eve has no touch before sql_at. No sales activity:
  'no_response', sla_met false.
- Not people: an archived HubSpot contact (frank) and a deleted lead (grace); their form
  submissions match no one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from raw_fixtures import land_records

from orchestration.alignment import Alignment, Fit, Mql
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect, rows
from orchestration.settings import Settings

MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")
ALIGNMENT = Alignment(mql=Mql(fit=Fit(min_employees=10)))


def _sf(text: str) -> str:
    """'2024-01-10 09:00:00' as the Salesforce REST API writes it."""
    return text.replace(" ", "T") + ".000+0000"


def _ms(text: str) -> str:
    return str(int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000))


def _hubspot_contact(contact_id: str, archived: bool = False, **properties: str) -> dict[str, str]:
    return {"id": contact_id, "createdAt": properties.get("createdate", ""), "updatedAt": "2024-08-01T00:00:00.000Z",
            "archived": str(archived).lower(), "properties": json.dumps(properties)}


def _submission(form: str, at: str, page_url: str, email: str) -> dict[str, str]:
    return {"formGuid": form, "submittedAt": _ms(at), "pageUrl": page_url,
            "values": json.dumps([{"name": "firstname", "value": "X"}, {"name": "email", "value": email}])}


def _member(member_id: str, campaign: str, lead: str | None, contact: str | None, responded: str,
            first_responded: str | None, created: str) -> dict[str, str | None]:
    return {"Id": member_id, "CampaignId": campaign, "LeadId": lead, "ContactId": contact, "Status": "Responded",
            "HasResponded": responded, "FirstRespondedDate": first_responded, "CreatedDate": _sf(created),
            "IsDeleted": "false", "SystemModstamp": _sf(created)}


def _status(history_id: str, lead: str, new_value: str, at: str, field: str = "Status") -> dict[str, str]:
    return {"Id": history_id, "LeadId": lead, "Field": field, "OldValue": "", "NewValue": new_value,
            "CreatedDate": _sf(at)}


LEAD_DEFAULTS = {"IsConverted": "false", "IsDeleted": "false", "ConvertedDate": "", "ConvertedAccountId": "",
                 "ConvertedContactId": "", "ConvertedOpportunityId": "", "NumberOfEmployees": "", "Industry": "",
                 "Country": "", "LeadSource": ""}

RAW: dict[tuple[str, str], list[dict[str, str | None]]] = {
    ("salesforce", "Lead"): [
        {**LEAD_DEFAULTS, "Id": "L1", "Email": "alice@acme.com", "Status": "Qualified", "LeadSource": "Web",
         "OwnerId": "U1", "Industry": "Software", "CreatedDate": _sf("2024-01-10 09:00:00"), "IsConverted": "true",
         "ConvertedDate": "2024-02-01", "ConvertedAccountId": "A1", "ConvertedContactId": "C1",
         "ConvertedOpportunityId": "O1", "SystemModstamp": _sf("2024-02-01 10:00:00")},
        {**LEAD_DEFAULTS, "Id": "L3", "Email": "carol@delta.net", "Status": "Unqualified", "OwnerId": "U3",
         "NumberOfEmployees": "5", "CreatedDate": _sf("2024-03-01 12:00:00"),
         "SystemModstamp": _sf("2024-06-01 00:00:00")},
        {**LEAD_DEFAULTS, "Id": "L4", "Email": "dan@eps.com", "Status": "Qualified", "OwnerId": "U4",
         "NumberOfEmployees": "15", "CreatedDate": _sf("2024-05-10 15:00:00"), "IsConverted": "true",
         "ConvertedDate": "2024-05-10", "ConvertedAccountId": "A4", "ConvertedContactId": "C4",
         "SystemModstamp": _sf("2024-05-10 15:30:00")},
        {**LEAD_DEFAULTS, "Id": "L5", "Email": "eve@gamma.org", "Status": "Qualified", "LeadSource": "Webinar",
         "OwnerId": "U5", "NumberOfEmployees": "60", "CreatedDate": _sf("2024-07-01 08:00:00"),
         "IsConverted": "true", "ConvertedDate": "2024-07-02", "ConvertedAccountId": "A5",
         "ConvertedContactId": "C5", "ConvertedOpportunityId": "O3", "SystemModstamp": _sf("2024-07-02 09:00:00")},
        {**LEAD_DEFAULTS, "Id": "L6", "Email": "grace@x.org", "Status": "Open", "OwnerId": "U6",
         "CreatedDate": _sf("2024-01-01 00:00:00"), "IsDeleted": "true", "SystemModstamp": _sf("2024-01-02 00:00:00")},
    ],
    ("salesforce", "LeadHistory"): [
        _status("H1", "L1", "Working - Contacted", "2024-01-11 10:00:00"),
        _status("H2", "L1", "Qualified", "2024-01-16 00:00:00", field="Rating"),
        _status("H3", "L1", "Qualified", "2024-01-20 00:00:00"),
        _status("H4", "L3", "Working - Contacted", "2024-03-03 09:00:00"),
        _status("H5", "L3", "Nurture", "2024-03-10 00:00:00"),
        _status("H6", "L3", "Recycled", "2024-04-01 00:00:00"),
        _status("H7", "L3", "Nurture", "2024-05-01 00:00:00"),
        _status("H8", "L3", "Unqualified", "2024-06-01 00:00:00"),
    ],
    ("salesforce", "Contact"): [
        {"Id": "C1", "Email": "alice.smith@acme.com", "AccountId": "A1", "OwnerId": "U9", "LeadSource": "Partner",
         "CreatedDate": _sf("2024-02-01 10:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-02-01 10:00:00")},
        {"Id": "C2", "Email": "bob@beta.io", "AccountId": "A2", "OwnerId": "U2", "LeadSource": "Outbound",
         "CreatedDate": _sf("2024-02-15 00:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-02-15 00:00:00")},
        {"Id": "C4", "Email": "DAN@eps.com", "AccountId": "A4", "OwnerId": "U8", "LeadSource": "",
         "CreatedDate": _sf("2024-05-10 15:30:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-05-10 15:30:00")},
        {"Id": "C5", "Email": "eve@gamma.org", "AccountId": "A5", "OwnerId": "U5", "LeadSource": "Webinar",
         "CreatedDate": _sf("2024-07-02 09:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-07-02 09:00:00")},
    ],
    ("salesforce", "Account"): [
        {"Id": "A1", "Name": "Acme", "NumberOfEmployees": "250", "Industry": "Finance", "BillingCountry": "US",
         "IsDeleted": "false", "SystemModstamp": _sf("2024-01-01 00:00:00")},
        {"Id": "A2", "Name": "Beta", "NumberOfEmployees": "40", "Industry": "Retail", "BillingCountry": "DE",
         "IsDeleted": "false", "SystemModstamp": _sf("2024-01-01 00:00:00")},
    ],
    ("salesforce", "Opportunity"): [
        {"Id": "O1", "AccountId": "A1", "Name": "Acme deal", "StageName": "Closed Won", "Amount": "12000",
         "CurrencyIsoCode": "USD", "CloseDate": "2024-02-01", "IsClosed": "true", "IsWon": "true",
         "CreatedDate": _sf("2024-02-01 10:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-02-02 00:00:00")},
        {"Id": "O2", "AccountId": "A2", "Name": "Beta deal", "StageName": "Closed Lost", "Amount": "10000",
         "CurrencyIsoCode": "EUR", "CloseDate": "2024-06-01", "IsClosed": "true", "IsWon": "false",
         "CreatedDate": _sf("2024-04-01 08:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-06-01 00:00:00")},
        {"Id": "O3", "AccountId": "A5", "Name": "Gamma deal", "StageName": "Prospecting", "Amount": "",
         "CurrencyIsoCode": "USD", "CloseDate": "2024-09-30", "IsClosed": "false", "IsWon": "false",
         "CreatedDate": _sf("2024-07-02 09:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-07-02 09:00:00")},
        {"Id": "O9", "AccountId": "A1", "Name": "Deleted", "StageName": "Closed Won", "Amount": "99999",
         "CurrencyIsoCode": "USD", "CloseDate": "2024-01-26", "IsClosed": "true", "IsWon": "true",
         "CreatedDate": _sf("2024-01-25 00:00:00"), "IsDeleted": "true", "SystemModstamp": _sf("2024-01-27 00:00:00")},
    ],
    ("salesforce", "OpportunityContactRole"): [
        {"Id": "R1", "OpportunityId": "O1", "ContactId": "C1", "Role": "Decision Maker", "IsPrimary": "true",
         "CreatedDate": _sf("2024-02-01 10:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-02-01 10:00:00")},
        {"Id": "R2", "OpportunityId": "O2", "ContactId": "C2", "Role": "Economic Buyer", "IsPrimary": "true",
         "CreatedDate": _sf("2024-04-01 08:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-04-01 08:00:00")},
        {"Id": "R9", "OpportunityId": "O9", "ContactId": "C1", "Role": "Decision Maker", "IsPrimary": "true",
         "CreatedDate": _sf("2024-01-25 00:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-01-25 00:00:00")},
    ],
    ("salesforce", "Campaign"): [
        {"Id": "WEB", "Name": "Monthly webinar", "Type": "Webinar", "IsDeleted": "false"},
        {"Id": "SHOW", "Name": "Fintech expo", "Type": "Trade Show", "IsDeleted": "false"},
        {"Id": "EBOOK", "Name": "Pricing eBook", "Type": "eBook", "IsDeleted": "false"},
    ],
    ("salesforce", "CampaignMember"): [
        _member("CM1", "WEB", None, "C1", "true", "2024-01-12", "2024-01-11 16:00:00"),
        _member("CM10", "SHOW", "L1", None, "true", "2024-01-15", "2024-01-14 09:00:00"),
        _member("CM9", "WEB", "L1", None, "true", None, "2024-01-15 00:00:00"),
        _member("CM11", "WEB", None, "C1", "false", None, "2024-01-13 00:00:00"),  # no response: no touch
        _member("CM5", "EBOOK", None, "C2", "1", "", "2024-03-20 16:45:00"),
        _member("CM6", "WEB", "L5", None, "TRUE", "2024-07-03", "2024-07-01 10:00:00"),
    ],
    ("salesforce", "Task"): [
        {"Id": "T1", "WhoId": "C1", "OwnerId": "U1", "Subject": "Call", "Type": "Call", "Status": "Completed",
         "CreatedDate": _sf("2024-01-15 01:00:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-01-15 01:00:00")},
        {"Id": "T2", "WhoId": "C2", "OwnerId": "U2", "Subject": "Email", "Type": "Email", "Status": "Completed",
         "CreatedDate": "2024-03-05T16:07:11.000+0200", "IsDeleted": "false",
         "SystemModstamp": "2024-03-05T16:07:11.000+0200"},
        {"Id": "T3", "WhoId": "L3", "OwnerId": "U3", "Subject": "Call", "Type": "Call", "Status": "Completed",
         "CreatedDate": _sf("2024-03-02 12:30:00"), "IsDeleted": "false", "SystemModstamp": _sf("2024-03-02 12:30:00")},
    ],
    ("salesforce", "Event"): [
        {"Id": "EV1", "WhoId": "L1", "OwnerId": "U1", "Subject": "Intro", "Type": "Meeting",
         "StartDateTime": _sf("2024-01-16 10:00:00"), "CreatedDate": _sf("2024-01-14 23:59:59"), "IsDeleted": "false",
         "SystemModstamp": _sf("2024-01-14 23:59:59")},
    ],
    ("salesforce", "DatedConversionRate"): [
        {"Id": "D0", "IsoCode": "USD", "ConversionRate": "1", "StartDate": "2000-01-01", "NextStartDate": ""},
        {"Id": "D1", "IsoCode": "EUR", "ConversionRate": "0.9", "StartDate": "2024-01-01",
         "NextStartDate": "2024-06-01"},
        {"Id": "D2", "IsoCode": "EUR", "ConversionRate": "1.25", "StartDate": "2024-06-01", "NextStartDate": ""},
    ],
    ("hubspot", "contacts"): [
        _hubspot_contact("101", email=" Alice@ACME.com ", createdate="2024-01-08T00:00:00.000Z",
                         lastmodifieddate="2024-08-01T00:00:00.000Z"),
        _hubspot_contact("104", salesforcecontactid="C4", createdate="2024-05-11T00:00:00.000Z",
                         hs_analytics_first_timestamp="2024-05-10T15:00:00.000Z",
                         hs_analytics_source="ORGANIC_SEARCH", lastmodifieddate="2024-08-01T00:00:00.000Z"),
        _hubspot_contact("106", archived=True, email="frank@zeta.com", createdate="2024-01-01T00:00:00.000Z",
                         hs_analytics_first_timestamp="2024-01-01T00:00:00.000Z",
                         hs_analytics_source="DIRECT_TRAFFIC", lastmodifieddate="2024-08-01T00:00:00.000Z"),
    ],
    ("hubspot", "forms"): [
        {"guid": "f-news", "name": "Newsletter signup"},
        {"guid": "f-sales", "name": "Contact Sales - EMEA"},
        {"guid": "f-demo", "name": "Request a Demo"},
    ],
    ("hubspot", "form_submissions"): [
        _submission("f-news", "2024-01-09 10:00:00", "https://acme.test/blog?utm_source=g&utm_medium=CPC",
                    "Alice@Acme.com"),
        _submission("f-sales", "2024-03-05 14:02:11", "https://acme.test/pricing", "bob@beta.io"),
        _submission("f-demo", "2024-03-02 12:00:00", "https://acme.test/demo?utm_medium=email", "carol@delta.net"),
        _submission("f-demo", "2024-07-04 12:00:00", "https://acme.test/demo?utm_medium=paid_social",
                    "eve@gamma.org"),
        _submission("f-news", "2024-02-01 00:00:00", "https://acme.test/blog", "frank@zeta.com"),
        _submission("f-news", "2024-02-02 00:00:00", "https://acme.test/blog", "grace@x.org"),
    ],
    ("hubspot", "email_events"): [
        {"id": "E1", "type": "OPEN", "recipient": "alice@acme.com", "created": _ms("2024-01-20 08:00:00"),
         "emailCampaignId": "m1"},
        {"id": "E2", "type": "OPEN", "recipient": "Bob@Beta.io", "created": _ms("2024-03-01 09:00:00"),
         "emailCampaignId": "m2"},
        {"id": "E3", "type": "DELIVERED", "recipient": "bob@beta.io", "created": _ms("2024-02-28 09:00:00"),
         "emailCampaignId": "m2"},
    ],
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


NO_MQL = dict(mql_at=None, first_response_at=None, sal_at=None, response_minutes=None, response_bucket=None,
              sla_met=None)
NO_OPPORTUNITY = dict(opportunity_at=None, won_at=None, lost_at=None, opportunity_id=None, won_amount=None)
NOT_DISQUALIFIED = dict(disqualified_at=None, disqualification_reason=None, recycled_count=0)

# fct_lead_funnel by the lead that names the person (Bob has only contact C2)
EXPECTED_FUNNEL = {
    "alice": dict(
        account_id="A1", owner_id="U1", lead_source="Web",  # the lead's, not the contact's U9 / Partner
        employees=250, industry="Software", country="US",  # per field: lead, else contact's account A1
        is_fit=True,  # 250 >= 10
        # earliest of lead 01-10 09:00, contact 02-01 10:00, HubSpot createdate 01-08 00:00, first touch
        # 01-09 10:00, first opportunity O1 02-01 10:00
        lead_at=_at("2024-01-08 00:00"),
        score=65.0,  # 20 + 15 + 15 + 15 + 0 (open)
        first_channel="paid_search",  # the form 01-09, utm_medium=CPC
        mql_at=_at("2024-01-15 00:00"), mql_touchpoint_id="sf_cm:CM10",  # 20 + 15 + 15 = 50 at CM10
        first_response_at=_at("2024-01-15 01:00"),  # T1 on the contact; EV1 23:59:59 is before mql_at
        response_minutes=60.0, response_bucket="5-60m", sla_met=True,  # 60 is on the bound: lower bucket
        sal_at=_at("2024-01-15 01:00"),  # min(response 01:00, no SAL status at/after mql_at)
        sql_at=_at("2024-01-20 00:00"),  # min(Status Qualified 01-20, opportunity 02-01 10:00)
        opportunity_at=_at("2024-02-01 10:00"), opportunity_id="O1",  # O9 is deleted
        won_at=_at("2024-02-01 10:00"),  # CloseDate 02-01 00:00 moved up to opportunity_at
        lost_at=None, won_amount=12000.0,
        is_marketing_sourced=True,  # touch 01-09 < sql_at, lead source Web
        **NOT_DISQUALIFIED),
    "bob": dict(
        account_id="A2", owner_id="U2", lead_source="Outbound", employees=40, industry="Retail", country="DE",
        is_fit=True,
        lead_at=_at("2024-02-15 00:00"),  # contact C2 created; first touch 03-01, opportunity 04-01
        score=60.0,  # 0 + 50 + 10
        first_channel="email",  # the OPEN 03-01 09:00 is a touch (0 points)
        mql_at=_at("2024-03-05 14:02:11"), mql_touchpoint_id=None,  # the form; id checked in attribution
        first_response_at=_at("2024-03-05 14:07:11"),  # 16:07:11+02:00
        response_minutes=5.0, response_bucket="<5m", sla_met=True,  # 5 is on the bound: lower bucket
        sal_at=_at("2024-03-05 14:07:11"),
        sql_at=_at("2024-04-01 08:00"), opportunity_at=_at("2024-04-01 08:00"), opportunity_id="O2",
        won_at=None, lost_at=_at("2024-06-01 00:00"), won_amount=None,
        is_marketing_sourced=False,  # Outbound is a sales lead source
        **NOT_DISQUALIFIED),
    "carol": dict(
        account_id=None, owner_id="U3", lead_source=None, employees=5, industry=None, country=None,
        is_fit=False,  # 5 < 10
        lead_at=_at("2024-03-01 12:00"), score=50.0, first_channel="email", mql_touchpoint_id=None,
        sql_at=None, is_marketing_sourced=True,  # a touch, no sql_at, no lead source
        disqualified_at=_at("2024-06-01 00:00"), disqualification_reason=None,
        recycled_count=3,  # Nurture, Recycled, Nurture
        **NO_MQL, **NO_OPPORTUNITY),
    "dan": dict(
        account_id="A4", owner_id="U4", lead_source=None, employees=15, industry=None, country=None, is_fit=True,
        lead_at=_at("2024-05-10 15:00"),  # lead 15:00 = first visit 15:00; contact 15:30, HubSpot 05-11
        score=1.0, first_channel="organic_search", mql_touchpoint_id=None,
        # min(current Status Qualified at SystemModstamp 15:30, ConvertedDate 00:00 moved up to lead_at 15:00)
        sql_at=_at("2024-05-10 15:00"),
        is_marketing_sourced=False,  # the visit at 15:00 is not strictly before sql_at 15:00
        **NO_MQL, **NO_OPPORTUNITY, **NOT_DISQUALIFIED),
    "eve": dict(
        account_id="A5", owner_id="U5", lead_source="Webinar", employees=60, industry=None, country=None,
        is_fit=True,
        lead_at=_at("2024-07-01 08:00"), score=65.0, first_channel="webinar",  # CM6 at 07-03 00:00
        mql_at=_at("2024-07-04 12:00"), mql_touchpoint_id=None,  # 15 + 50 = 65 at the demo form
        first_response_at=None, response_minutes=None, response_bucket="no_response", sla_met=False,
        sal_at=None,
        sql_at=_at("2024-07-02 09:00"),  # min(Status Qualified at SystemModstamp 07-02 09:00, O3 09:00)
        opportunity_at=_at("2024-07-02 09:00"), opportunity_id="O3", won_at=None, lost_at=None, won_amount=None,
        is_marketing_sourced=False,  # no touch before sql_at
        **NOT_DISQUALIFIED),
}
PERSON_RECORDS = {"alice": ("lead", "L1"), "bob": ("contact", "C2"), "carol": ("lead", "L3"),
                  "dan": ("lead", "L4"), "eve": ("lead", "L5")}


def _time_decay(seconds_before: list[int]) -> list[float]:
    raw = [2 ** (-(seconds / 86400) / 7) for seconds in seconds_before]
    return [weight / sum(raw) for weight in raw]


def _expected_attribution(person: dict[str, str]) -> list[dict]:
    """fct_attribution by hand, ordered by opportunity and position."""
    alice_form = f"hs_form:f-news:{_ms('2024-01-09 10:00:00')}:{person['alice']}"
    bob_form = f"hs_form:f-sales:{_ms('2024-03-05 14:02:11')}:{person['bob']}"
    # O1, created 2024-02-01 10:00, 12000 USD, won. n = 4 (the OPEN 01-20 is excluded). Seconds before:
    # form 01-09 10:00: 23 days; CM1 01-12 00:00: 20 days 10 h; CM10 and CM9 01-15 00:00: 17 days 10 h.
    o1 = [  # touchpoint, campaign, channel, touch type, touched_at, seconds before O1
        (alice_form, None, "paid_search", "form_submission", _at("2024-01-09 10:00"), 23 * 86400),
        ("sf_cm:CM1", "WEB", "webinar", "webinar_attended", _at("2024-01-12 00:00"), 20 * 86400 + 10 * 3600),
        ("sf_cm:CM10", "SHOW", "events", "event_attended", _at("2024-01-15 00:00"), 17 * 86400 + 10 * 3600),
        ("sf_cm:CM9", "WEB", "webinar", "webinar_attended", _at("2024-01-15 00:00"), 17 * 86400 + 10 * 3600),
    ]
    o1_weights = {
        "first_touch": [1, 0, 0, 0], "last_touch": [0, 0, 0, 1], "linear": [0.25] * 4,
        "u_shaped": [0.4, 0.1, 0.1, 0.4],  # middle 0.2 / (4 - 2)
        # roles: form first 0.3, CM10 lead (Alice's MQL touch) 0.3, CM9 opportunity 0.3; CM1 alone holds
        # none: 0.1 / 1. Raw sum 1.0, so normalised they stay 0.3, 0.1, 0.3, 0.3
        "w_shaped": [0.3, 0.1, 0.3, 0.3],
        "time_decay": _time_decay([touch[5] for touch in o1]),
    }
    # O2, created 2024-04-01 08:00, 10000 EUR / 1.25 (rate from 2024-06-01 = CloseDate) = 8000 USD, lost.
    # The OPEN 03-01 is excluded: n = 2. Seconds before: form 03-05 14:02:11 is 27 days less 6:02:11 =
    # 2332800 - 21731 = 2311069; CM5 03-20 16:45 is 12 days less 8:45 = 1036800 - 31500 = 1005300.
    o2 = [
        (bob_form, None, "other", "demo_request", _at("2024-03-05 14:02:11"), 2311069),
        ("sf_cm:CM5", "EBOOK", "content", "content_download", _at("2024-03-20 16:45"), 1005300),
    ]
    o2_weights = {
        "first_touch": [1, 0], "last_touch": [0, 1], "linear": [0.5, 0.5], "u_shaped": [0.5, 0.5],
        # the form holds two roles, first and lead (Bob's MQL touch): 0.6; CM5 opportunity: 0.3. Sum 0.9:
        # 0.6 / 0.9 = 2/3 and 0.3 / 0.9 = 1/3
        "w_shaped": [2 / 3, 1 / 3],
        "time_decay": _time_decay([touch[5] for touch in o2]),
    }
    expected = []
    for opportunity, touches, weights, amount, is_won, who in (
            ("O1", o1, o1_weights, 12000.0, True, "alice"), ("O2", o2, o2_weights, 8000.0, False, "bob")):
        for index, (touchpoint, campaign, channel, touch_type, touched_at, _) in enumerate(touches):
            expected.append({
                "opportunity_id": opportunity, "touchpoint_id": touchpoint, "person_id": person[who],
                "campaign_id": campaign, "channel": channel, "touch_type": touch_type, "touched_at": touched_at,
                "position": index + 1, "touch_count": len(touches),
                **{f"weight_{model}": float(weights[model][index]) for model in MODELS},
                "amount": amount, "is_won": is_won,
            })
    # O3 (empty Amount: 0, open): Eve's touches all come after its creation
    expected.append({
        "opportunity_id": "O3", "touchpoint_id": None, "person_id": None, "campaign_id": None,
        "channel": "unattributed", "touch_type": "unattributed", "touched_at": None, "position": 0,
        "touch_count": 0, **{f"weight_{model}": 1.0 for model in MODELS}, "amount": 0.0, "is_won": False,
    })
    return expected


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    settings = Settings(warehouse_dir=tmp_path_factory.mktemp("spec_cases_facts") / "warehouse")
    land_records(settings.raw_dir, {key: [records] for key, records in RAW.items()})
    # build: seeds, both fact tables and every data test on them (stage order, weights sum to 1, ...);
    # unit tests are written for the default alignment.yml, this one raises fit.min_employees
    run_dbt(settings, ALIGNMENT, "build", "--indirect-selection", "cautious", "--exclude-resource-type", "unit_test",
            "--select", "+fct_attribution", "int_touchpoints__unmatched_form_submissions",
            "assert_funnel_stage_order", "assert_attribution_weights_sum_to_1",
            "assert_attribution_weights_between_0_and_1", "assert_attribution_totals_reconcile")
    db = connect(settings.warehouse_path, read_only=True)
    yield db
    db.close()


def _dicts(db, sql: str) -> list[dict]:
    result = db.execute(sql)
    columns = [column[0] for column in result.description]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def _people(db) -> dict[str, str]:
    keys = {(row["record_type"], row["record_id"]): row["person_id"]
            for row in _dicts(db, "select record_type, record_id, person_id from intermediate.int_person_keys")}
    return {name: keys[record] for name, record in PERSON_RECORDS.items()}


def test_one_row_per_live_person(warehouse):
    people = _people(warehouse)
    # Alice's lead, contact and HubSpot contact are one person; frank (archived) and grace (deleted) none
    funnel = rows(warehouse, "select person_id from marts.fct_lead_funnel order by person_id")
    assert sorted(row[0] for row in funnel) == sorted(people.values())
    assert len(set(people.values())) == 5


@pytest.mark.parametrize("name", sorted(EXPECTED_FUNNEL))
def test_lead_funnel_row_matches_the_hand_computed_one(warehouse, name):
    person_id = _people(warehouse)[name]
    expected = dict(EXPECTED_FUNNEL[name])
    if name == "bob":
        expected["mql_touchpoint_id"] = f"hs_form:f-sales:{_ms('2024-03-05 14:02:11')}:{person_id}"
    if name == "eve":
        expected["mql_touchpoint_id"] = f"hs_form:f-demo:{_ms('2024-07-04 12:00:00')}:{person_id}"
    [actual] = _dicts(warehouse, f"select * from marts.fct_lead_funnel where person_id = '{person_id}'")
    mismatches = {column: (actual[column], value) for column, value in expected.items()
                  if (actual[column] != pytest.approx(value, abs=1e-9) if isinstance(value, float)
                      else actual[column] != value)}
    assert not mismatches, f"{name}: column: (actual, expected) {mismatches}"


def test_attribution_matches_the_hand_computed_rows(warehouse):
    expected = _expected_attribution(_people(warehouse))
    actual = _dicts(warehouse, "select * from marts.fct_attribution order by opportunity_id, position")
    assert [(row["opportunity_id"], row["touchpoint_id"]) for row in actual] == [
        (row["opportunity_id"], row["touchpoint_id"]) for row in expected]
    for got, want in zip(actual, expected, strict=True):
        where = f"{want['opportunity_id']} {want['touchpoint_id']}"
        for column, value in want.items():
            if isinstance(value, float):
                assert got[column] == pytest.approx(value, rel=1e-12, abs=1e-15), f"{where}: {column}"
            else:
                assert got[column] == value, f"{where}: {column}"


def test_unmatched_form_submissions_are_counted(warehouse):
    # frank's HubSpot contact is archived and grace's lead deleted: their submissions match no one
    assert rows(warehouse, "select unmatched_form_submissions, form_submissions "
                           "from intermediate.int_touchpoints__unmatched_form_submissions") == [(2, 6)]
