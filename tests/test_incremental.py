"""Incremental builds make exactly what a full refresh makes.

Raw lands in four nightly steps into warehouse A, and dbt builds after each step (staging
incremental: only the new batches are read; the identity records and map incremental: only the
changed records and the people they touch are recomputed; int_touchpoints, int_persons, the
int_funnel__* people-level tables, fct_lead_funnel and fct_attribution incremental: only the
affected people and opportunities are recomputed). Warehouse B gets the same raw files at the
end and one `--full-refresh` build. Every table in staging, intermediate and marts must hold the
same rows in both. The steps cover a newer SystemModstamp landing later, an older re-extract
landing later (it must lose), a tie on SystemModstamp (the later batch wins), two versions
inside one batch (the later _source_row wins), a deletion landing later, new records, and
HubSpot contacts ordered by updatedAt; for the identity map: a lead whose email edit joins a
person keyed by another of its emails, and a contact named by a converted lead getting another
email while the lead is not re-landed (the link's far end moves); and for touches and
attribution: an identity merge (a HubSpot contact with touches gets salesforceleadid), a split
(an email edit takes a lead out of its person), new touches of an existing person, a campaign
Type change, a form renamed into a demo form, a first-visit source change (a form's fallback
channel), a deleted lead with touches, an opportunity's amount and close date changes, a new
contact role on an existing opportunity, a new DatedConversionRate row, a touch that takes an
opportunity's person across the MQL threshold (w-shaped lead role), a touch alone of an
opportunity's person (nothing else of the opportunity changes), an account edit (its
contacts' people leave the fit rule and their MQL), and for the funnel: an opportunity won (its
person's won amount), a Task alone that answers an MQL, and a converted lead's opportunity
deleted alone (its ConvertedDate now sets sql_at). A last build with nothing new must change no
table.
"""

from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from warehouse_rows import table_rows

from orchestration.alignment import Alignment, Fit, Mql
from orchestration.dbt_cli import run_dbt
from orchestration.duck import connect, rows
from orchestration.landing import ensure_every_object_has_a_schema, land_batch, new_batch_id
from orchestration.raw_schema import raw_object
from orchestration.settings import Settings

SCHEMAS = ("staging", "intermediate", "marts")
LEADS_MODEL = Path("closedloop", "models", "staging", "salesforce", "stg_salesforce__leads.sql")
REPLACED_LOG = "__state_replaced"
BUILD = ("build", "--exclude-resource-type", "test", "unit_test", "--threads", "8")
# a fit rule that follows accounts: people's fit, and so their MQL, changes with an account edit
ALIGNMENT = Alignment(mql=Mql(fit=Fit(industries=["Software"])))


def _contact(
    contact_id: str,
    updated_at: str,
    email: str,
    *,
    archived: str = "false",
    lead: str = "",
    source: str = "PAID_SEARCH",
    first_visit: str = "1704153600000",
    **lineage: str,
) -> dict:
    properties = (
        f'{{"email": "{email}", "createdate": "2024-01-02T00:00:00Z", "hs_analytics_source": '
        f'"{source}", "hs_analytics_first_timestamp": "{first_visit}", "salesforceleadid": "{lead}"}}'
    )
    return {
        "id": contact_id,
        "createdAt": "2024-01-02T00:00:00Z",
        "updatedAt": updated_at,
        "archived": archived,
        "properties": properties,
        **lineage,
    }


def _lead(lead_id: str, modstamp: str, status: str, email: str, **fields: str) -> dict:
    return {
        "Id": lead_id,
        "SystemModstamp": modstamp,
        "Status": status,
        "Email": email,
        "CreatedDate": "2024-01-01T09:00:00.000+0000",
        "IsDeleted": "false",
        "IsConverted": "false",
        "LeadSource": "Web",
        **fields,
    }


def _activity(activity_id: str, who_id: str, created: str, modstamp: str) -> dict:
    return {"Id": activity_id, "WhoId": who_id, "CreatedDate": created, "IsDeleted": "false",
            "SystemModstamp": modstamp}


def _ms(instant: str) -> str:
    return str(int(datetime.fromisoformat(instant).replace(tzinfo=UTC).timestamp() * 1000))


def _submission(form_guid: str, submitted_at: str, email: str, page_url: str = "https://example.com/page") -> dict:
    return {
        "formGuid": form_guid,
        "submittedAt": _ms(submitted_at),
        "pageUrl": page_url,
        "values": f'[{{"name": "email", "value": "{email}"}}]',
    }


def _opportunity(
    opportunity_id: str,
    modstamp: str,
    amount: str,
    currency: str,
    close: str,
    *,
    won: str = "false",
    created: str = "2024-03-01T00:00:00Z",
    deleted: str = "false",
) -> dict:
    return {
        "Id": opportunity_id,
        "AccountId": "001_A",
        "StageName": "Closed Won" if won == "true" else "Prospecting",
        "Amount": amount,
        "CurrencyIsoCode": currency,
        "CloseDate": close,
        "IsClosed": won,
        "IsWon": won,
        "CreatedDate": created,
        "IsDeleted": deleted,
        "SystemModstamp": modstamp,
    }


def _member(
    member_id: str, campaign_id: str, responded: str, *, lead: str | None = None, contact: str | None = None
) -> dict:
    return {
        "Id": member_id,
        "CampaignId": campaign_id,
        "LeadId": lead,
        "ContactId": contact,
        "HasResponded": "true",
        "FirstRespondedDate": responded,
        "CreatedDate": "2024-01-01T00:00:00Z",
        "SystemModstamp": "2024-01-01T00:00:00Z",
    }


def _converted(opportunity_id: str, contact_id: str | None = None) -> dict:
    return {
        "IsConverted": "true",
        "ConvertedDate": "2024-03-01",
        "ConvertedOpportunityId": opportunity_id,
        "ConvertedAccountId": "001_A",
        **({"ConvertedContactId": contact_id} if contact_id else {}),
    }


# Each step: the batches landed before one nightly build, per raw object.
STEPS: list[dict[tuple[str, str], list[dict]]] = [
    {
        ("salesforce", "Lead"): [
            _lead("00Q_UPDATED", "2024-02-01T00:00:00.000+0000", "Open", "updated@example.com"),
            _lead("00Q_REEXTRACT", "2024-02-10T00:00:00.000+0000", "Qualified", "reextract@example.com"),
            _lead("00Q_TIE", "2024-02-01 00:00:00", "Open", "tie@example.com"),
            _lead("00Q_DELETED", "2024-02-01T00:00:00Z", "Open", "deleted@example.com"),
            _lead(
                "00Q_CONVERTED",
                "2024-02-01T00:00:00Z",
                "Qualified",
                "converted@example.com",
                IsConverted="true",
                ConvertedDate="2024-02-01",
                ConvertedContactId="003_A",
                ConvertedOpportunityId="006_A",
                ConvertedAccountId="001_A",
            ),
            # Merges in step 2 with HubSpot contact 504 (which has touches of its own).
            _lead(
                "00Q_MERGE",
                "2024-02-01T00:00:00Z",
                "Qualified",
                "merge-lead@example.com",
                **_converted("006_M", "003_M"),
            ),
            # One person with HubSpot contact 505 (same email) until its email is edited in step 3.
            _lead("00Q_SPLIT", "2024-02-01T00:00:00Z", "Qualified", "split@example.com", **_converted("006_S")),
            # Deleted in step 3, with touches and an opportunity.
            _lead("00Q_GONE", "2024-02-01T00:00:00Z", "Qualified", "gone@example.com", **_converted("006_G")),
            # One person of two emails (lead b-two@, its contact a-two@): keyed by a-two@, the smaller.
            _lead("00Q_TWO", "2024-02-01T00:00:00Z", "Qualified", "b-two@example.com", ConvertedContactId="003_TWO",
                  IsConverted="true", ConvertedDate="2024-03-01"),
            # Its own person until step 4 edits its email to b-two@: it joins 00Q_TWO's person by email.
            _lead("00Q_JOINER", "2024-02-01T00:00:00Z", "Open", "joiner@example.com"),
            # Converted into 006_DROP, deleted in step 4; its person's first opportunity is 006_FIRST.
            _lead("00Q_DROP", "2024-02-01T00:00:00Z", "Open", "drop@example.com", **_converted("006_DROP", "003_DROP")),
            # Linked to its contact 003_LINKED (another email) by conversion; only the contact changes
            # (step 3): the link's far end moves to another node while the lead stays as it was.
            _lead("00Q_LINKED", "2024-02-01T00:00:00Z", "Qualified", "linked-lead@example.com",
                  ConvertedContactId="003_LINKED", IsConverted="true", ConvertedDate="2024-03-01"),
        ],
        ("salesforce", "Contact"): [
            {
                "Id": "003_A",
                "AccountId": "001_A",
                "Email": "converted@example.com",
                "CreatedDate": "2024-02-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-02-01T00:00:00Z",
            },
            {
                "Id": "003_M",
                "AccountId": "001_A",
                "Email": "merge-lead@example.com",
                "CreatedDate": "2024-03-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-03-01T00:00:00Z",
            },
            {
                "Id": "003_TWO",
                "AccountId": "001_A",
                "Email": "a-two@example.com",
                "CreatedDate": "2024-03-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-03-01T00:00:00Z",
            },
            # Its own person (a contact only), an MQL by a demo request while its account is in a fit
            # industry; the account's edit in step 4 alone makes it unfit.
            {
                "Id": "003_FIT",
                "AccountId": "001_B",
                "Email": "fit@example.com",
                "CreatedDate": "2024-01-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-01-01T00:00:00Z",
            },
            {
                "Id": "003_DROP",
                "AccountId": "001_A",
                "Email": "drop@example.com",
                "CreatedDate": "2024-01-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-01-01T00:00:00Z",
            },
            {
                "Id": "003_LINKED",
                "AccountId": "001_A",
                "Email": "linked-contact@example.com",
                "CreatedDate": "2024-03-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-03-01T00:00:00Z",
            },
            # Gets a contact role on 006_S in step 4.
            {
                "Id": "003_X",
                "AccountId": "001_A",
                "Email": "role@example.com",
                "CreatedDate": "2024-01-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-01-01T00:00:00Z",
            },
        ],
        # A sales activity on 00Q_UPDATED's person; its WhoId moves to 003_X in step 3.
        ("salesforce", "Task"): [
            _activity("00T_MOVE", "00Q_UPDATED", "2024-02-02T00:00:00Z", "2024-02-02T00:00:00Z"),
        ],
        ("salesforce", "Account"): [
            {
                "Id": "001_A",
                "Name": "Acme",
                "NumberOfEmployees": "500",
                "Industry": "Software",
                "BillingCountry": "DE",
                "IsDeleted": "false",
                "SystemModstamp": "2024-02-01T00:00:00Z",
            },
            {
                "Id": "001_B",
                "Name": "Fitco",
                "NumberOfEmployees": "50",
                "Industry": "Software",
                "BillingCountry": "FR",
                "IsDeleted": "false",
                "SystemModstamp": "2024-01-01T00:00:00Z",
            },
        ],
        ("salesforce", "Opportunity"): [
            {
                "Id": "006_A",
                "AccountId": "001_A",
                "StageName": "Prospecting",
                "Amount": "1000",
                "CurrencyIsoCode": "USD",
                "CloseDate": "2024-04-01",
                "IsClosed": "false",
                "IsWon": "false",
                "CreatedDate": "2024-02-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-02-01T00:00:00Z",
            },
            _opportunity("006_M", "2024-03-01T00:00:00Z", "2000", "EUR", "2024-06-01"),
            _opportunity("006_S", "2024-03-01T00:00:00Z", "3000", "USD", "2024-05-01"),
            _opportunity("006_G", "2024-03-01T00:00:00Z", "500", "USD", "2024-05-01"),
            _opportunity("006_FIRST", "2024-03-10T00:00:00Z", "900", "USD", "2024-06-01",
                         created="2024-03-10T00:00:00Z"),
            _opportunity("006_DROP", "2024-03-20T00:00:00Z", "700", "USD", "2024-06-01",
                         created="2024-03-20T00:00:00Z"),
        ],
        ("salesforce", "OpportunityContactRole"): [
            {
                "Id": "00K_A",
                "OpportunityId": "006_A",
                "ContactId": "003_A",
                "IsPrimary": "true",
                "CreatedDate": "2024-02-01T00:00:00Z",
                "SystemModstamp": "2024-02-01T00:00:00Z",
            },
            {
                "Id": "00K_M",
                "OpportunityId": "006_M",
                "ContactId": "003_M",
                "IsPrimary": "true",
                "CreatedDate": "2024-03-01T00:00:00Z",
                "SystemModstamp": "2024-03-01T00:00:00Z",
            },
            {
                "Id": "00K_FIRST",
                "OpportunityId": "006_FIRST",
                "ContactId": "003_DROP",
                "IsPrimary": "true",
                "CreatedDate": "2024-03-10T00:00:00Z",
                "SystemModstamp": "2024-03-10T00:00:00Z",
            },
        ],
        ("salesforce", "DatedConversionRate"): [
            {
                "Id": "04w_1",
                "IsoCode": "EUR",
                "ConversionRate": "0.9",
                "StartDate": "2024-01-01",
                "SystemModstamp": "2024-01-01T00:00:00Z",
            },
        ],
        ("salesforce", "Campaign"): [
            {
                "Id": "701_W",
                "Name": "Webinar",
                "Type": "Webinar",
                "IsDeleted": "false",
                "SystemModstamp": "2024-01-01T00:00:00Z",
            },
            {
                "Id": "701_C",
                "Name": "Guide",
                "Type": "Content",
                "IsDeleted": "false",
                "SystemModstamp": "2024-01-01T00:00:00Z",
            },
        ],
        ("salesforce", "CampaignMember"): [
            {
                "Id": "00v_A",
                "CampaignId": "701_W",
                "LeadId": "00Q_CONVERTED",
                "HasResponded": "true",
                "FirstRespondedDate": "2024-01-15",
                "CreatedDate": "2024-01-10T00:00:00Z",
                "SystemModstamp": "2024-01-10T00:00:00Z",
            },
            _member("00v_M", "701_C", "2024-01-25", lead="00Q_MERGE"),
            _member("00v_S", "701_W", "2024-01-16", lead="00Q_SPLIT"),
            _member("00v_G", "701_C", "2024-01-12", lead="00Q_GONE"),
            _member("00v_X", "701_C", "2024-02-01", contact="003_X"),
        ],
        ("hubspot", "contacts"): [
            _contact("501", "2024-02-01T00:00:00Z", "converted@example.com", lead="00Q_CONVERTED"),
            _contact("502", "1706745600000", "hubspot-only@example.com"),  # 2024-02-01 as epoch ms
            _contact(
                "504",
                "2024-02-01T00:00:00Z",
                "merge-hs@example.com",
                source="ORGANIC_SEARCH",
                first_visit=_ms("2024-01-05T00:00:00"),
            ),
            _contact(
                "505",
                "2024-02-01T00:00:00Z",
                "split@example.com",
                source="DIRECT_TRAFFIC",
                first_visit=_ms("2024-01-06T00:00:00"),
            ),
        ],
        ("hubspot", "forms"): [
            {"guid": "F_WP", "name": "Whitepaper"},
            {"guid": "F_NEWS", "name": "Newsletter"},
            {"guid": "F_DEMO", "name": "Contact Sales"},
        ],
        ("hubspot", "form_submissions"): [
            _submission("F_WP", "2024-01-20T12:00:00", "converted@example.com"),
            _submission("F_NEWS", "2024-01-20T00:00:00", "merge-hs@example.com"),
            _submission("F_NEWS", "2024-01-22T00:00:00", "Split@Example.com "),  # no utm_medium: first-visit channel
            _submission("F_NEWS", "2024-01-13T00:00:00", "gone@example.com"),
            _submission("F_DEMO", "2024-01-05T00:00:00", "fit@example.com"),
        ],
        ("hubspot", "email_events"): [
            {"id": "ev_M", "type": "CLICK", "recipient": "merge-hs@example.com", "created": "2024-01-21T00:00:00Z"},
            {"id": "ev_G", "type": "OPEN", "recipient": "gone@example.com", "created": "2024-01-14T00:00:00Z"},
        ],
    },
    {
        ("salesforce", "Lead"): [
            # Newer SystemModstamp landing later: wins.
            _lead("00Q_UPDATED", "2024-03-01T00:00:00.000+0000", "Working - Contacted", "updated@example.com"),
            # Older re-extract landing later: loses to the version already built.
            _lead("00Q_REEXTRACT", "2024-01-01T00:00:00.000+0000", "Disqualified", "stale@example.com"),
            # Same instant spelled differently: the later batch wins the tie.
            _lead("00Q_TIE", "2024-02-01T00:00:00.000+0000", "Accepted", "tie@example.com", Country="FR"),
            # Two versions inside one batch with the same SystemModstamp: the later source row wins.
            _lead("00Q_NEW", "2024-03-01T00:00:00Z", "Open", "new@example.com", _source_row="1"),
            _lead("00Q_NEW", "2024-03-01T00:00:00Z", "Nurture", "new@example.com", _source_row="2"),
        ],
        ("salesforce", "Opportunity"): [
            {
                "Id": "006_A",
                "AccountId": "001_A",
                "StageName": "Closed Won",
                "Amount": "1500",
                "CurrencyIsoCode": "USD",
                "CloseDate": "2024-03-15",
                "IsClosed": "true",
                "IsWon": "true",
                "CreatedDate": "2024-02-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-03-15T00:00:00Z",
            },
        ],
        # A new rate from May: 006_M (closing in June) converts at 1.1 from now on.
        ("salesforce", "DatedConversionRate"): [
            {
                "Id": "04w_1",
                "IsoCode": "EUR",
                "ConversionRate": "0.9",
                "StartDate": "2024-01-01",
                "NextStartDate": "2024-05-01",
                "SystemModstamp": "2024-05-01T00:00:00Z",
            },
            {
                "Id": "04w_2",
                "IsoCode": "EUR",
                "ConversionRate": "1.1",
                "StartDate": "2024-05-01",
                "SystemModstamp": "2024-05-01T00:00:00Z",
            },
        ],
        # Campaign Type change: its members' touches become ad_click / paid_social.
        ("salesforce", "Campaign"): [
            {
                "Id": "701_W",
                "Name": "Webinar",
                "Type": "Paid Social",
                "IsDeleted": "false",
                "SystemModstamp": "2024-03-01T00:00:00Z",
            },
        ],
        # New touches of an existing person (converted@example.com, 006_A).
        ("salesforce", "CampaignMember"): [
            _member("00v_C2", "701_C", "2024-01-26", contact="003_A"),
        ],
        ("hubspot", "email_events"): [
            {"id": "ev_C", "type": "CLICK", "recipient": "converted@example.com", "created": "2024-01-25T00:00:00Z"},
        ],
        ("hubspot", "contacts"): [
            _contact("501", "2024-03-01T00:00:00Z", "converted@example.com", lead="00Q_CONVERTED"),
            _contact("502", "1704067200000", "stale-hubspot@example.com"),  # older (2024-01-01): loses
            _contact("503", "2024-03-01T00:00:00Z", "another@example.com"),
            # MERGE: 504 (visit, form, email click) names lead 00Q_MERGE: one person with 006_M's contact.
            _contact(
                "504",
                "2024-03-01T00:00:00Z",
                "merge-hs@example.com",
                source="ORGANIC_SEARCH",
                first_visit=_ms("2024-01-05T00:00:00"),
                lead="00Q_MERGE",
            ),
            # First-visit source change: 505's form submission falls back to `social` now.
            _contact(
                "505",
                "2024-03-01T00:00:00Z",
                "split@example.com",
                source="SOCIAL_MEDIA",
                first_visit=_ms("2024-01-06T00:00:00"),
            ),
        ],
    },
    {
        ("salesforce", "Lead"): [
            # Deleted later: the deleted flag follows the newer version.
            _lead("00Q_DELETED", "2024-04-01T00:00:00Z", "Open", "deleted@example.com", IsDeleted="true"),
            # Another older re-extract, now against a winner built two steps ago.
            _lead("00Q_REEXTRACT", "2024-02-09T23:59:59Z", "Unqualified", "stale@example.com"),
            _lead("00Q_LATEST", "2024-04-01T00:00:00Z", "Open", "latest@example.com"),
            # SPLIT: the lead leaves HubSpot contact 505's person (and takes 006_S with it).
            _lead("00Q_SPLIT", "2024-04-01T00:00:00Z", "Qualified", "split-new@example.com", **_converted("006_S")),
            # Deleted with touches: its campaign response, form submission and email event go too.
            _lead(
                "00Q_GONE",
                "2024-04-01T00:00:00Z",
                "Qualified",
                "gone@example.com",
                IsDeleted="true",
                **_converted("006_G"),
            ),
        ],
        ("salesforce", "Opportunity"): [
            _opportunity("006_M", "2024-04-15T00:00:00Z", "2500", "EUR", "2024-04-15", won="true"),
        ],
        # LINK TARGET EDITED: the contact a converted lead names gets another email; the lead is not
        # re-landed, so only the link's far end tells its person apart.
        ("salesforce", "Contact"): [
            {
                "Id": "003_LINKED",
                "AccountId": "001_A",
                "Email": "linked-new@example.com",
                "CreatedDate": "2024-03-01T00:00:00Z",
                "IsDeleted": "false",
                "SystemModstamp": "2024-04-01T00:00:00Z",
            },
        ],
        # Renamed into a demo form: converted@example.com's submission is a demo_request (50 points) and
        # makes that person an MQL (w-shaped lead role on 006_A).
        ("hubspot", "forms"): [
            {"guid": "F_WP", "name": "Request a Demo"},
        ],
        # An activity that changes person: its person before and its person now both change.
        ("salesforce", "Task"): [
            _activity("00T_MOVE", "003_X", "2024-02-02T00:00:00Z", "2024-03-05T00:00:00Z"),
            # A first response to 003_FIT's MQL, the only change to its person this step.
            _activity("00T_FIT", "003_FIT", "2024-01-05T00:30:00Z", "2024-03-05T00:00:00Z"),
        ],
        ("salesforce", "LeadHistory"): [
            {
                "Id": "017_A",
                "LeadId": "00Q_UPDATED",
                "Field": "Status",
                "OldValue": "Open",
                "NewValue": "Working - Contacted",
                "CreatedDate": "2024-03-01T00:00:00Z",
            },
        ],
        ("hubspot", "contacts"): [
            _contact("503", "2024-04-01T00:00:00Z", "another@example.com", archived="true", _source_row="1"),
            # Same updatedAt in the same batch: the later source row wins.
            _contact("503", "2024-04-01T00:00:00Z", "tie-hubspot@example.com", _source_row="2"),
        ],
    },
    {
        # JOIN BY EMAIL: the lead's new email is the larger of an existing person's two.
        ("salesforce", "Lead"): [
            _lead("00Q_JOINER", "2024-04-01T00:00:00Z", "Open", "b-two@example.com"),
        ],
        # A new contact role on an existing opportunity: 003_X's touches join 006_S.
        ("salesforce", "OpportunityContactRole"): [
            {
                "Id": "00K_X",
                "OpportunityId": "006_S",
                "ContactId": "003_X",
                "IsPrimary": "false",
                "CreatedDate": "2024-03-02T00:00:00Z",
                "SystemModstamp": "2024-04-02T00:00:00Z",
            },
        ],
        # A new touch takes 006_M's person across the MQL threshold (36 -> 86 points).
        ("hubspot", "form_submissions"): [
            _submission("F_DEMO", "2024-02-10T00:00:00", "merge-lead@example.com"),
        ],
        # A new event on 003_FIT's person, and a Status history row for 00Q_CONVERTED, whose lead row
        # and person are otherwise unchanged this step (its history replaces its current status).
        ("salesforce", "Event"): [_activity("00U_NEW", "003_FIT", "2024-04-05T00:00:00Z", "2024-04-05T00:00:00Z")],
        ("salesforce", "LeadHistory"): [
            {
                "Id": "017_C",
                "LeadId": "00Q_CONVERTED",
                "Field": "Status",
                "OldValue": "Open",
                "NewValue": "Nurture",
                "CreatedDate": "2024-01-10T00:00:00Z",
            },
        ],
        # An opportunity deleted alone: 00Q_DROP's ConvertedDate now counts (sql_at), though its lead,
        # person and first opportunity are unchanged.
        ("salesforce", "Opportunity"): [
            _opportunity("006_DROP", "2024-04-06T00:00:00Z", "700", "USD", "2024-06-01",
                         created="2024-03-20T00:00:00Z", deleted="true"),
        ],
        # An account edit alone: 003_FIT's person takes its new industry and is no longer fit (so no
        # longer an MQL), though none of its records or touches changed.
        ("salesforce", "Account"): [
            {
                "Id": "001_B",
                "Name": "Fitco",
                "NumberOfEmployees": "50",
                "Industry": "Banking",
                "BillingCountry": "FR",
                "IsDeleted": "false",
                "SystemModstamp": "2024-04-03T00:00:00Z",
            },
        ],
        # A touch alone (step 4): another click of converted@ before 006_A opened; nothing else of 006_A changes.
        ("hubspot", "email_events"): [
            {"id": "ev_C4", "type": "CLICK", "recipient": "converted@example.com", "created": "2024-01-28T00:00:00Z"},
        ],
    },
]


def _land(settings: Settings, step: dict[tuple[str, str], list[dict]]) -> None:
    con = connect()
    try:
        for (system, name), records in step.items():
            columns = list(dict.fromkeys(column for record in records for column in record))
            table = pa.table(
                {column: pa.array([record.get(column) for record in records], pa.string()) for column in columns}
            )
            land_batch(con, settings.raw_dir, raw_object(system, name), con.from_arrow(table), new_batch_id("test"))
    finally:
        con.close()


def _probe(settings: Settings) -> dict:
    """What the scenarios of the steps should show: touches, people, MQL touches and attribution rows."""
    con = connect(settings.warehouse_path, read_only=True)
    try:
        touches = {
            row[0]: row[1:]
            for row in rows(
                con, "select touchpoint_id, person_id, touch_type, channel from intermediate.int_touchpoints"
            )
        }
        person = dict(rows(con, "select record_id, person_id from intermediate.int_person_keys"))
        industry = dict(rows(con, "select person_id, industry from intermediate.int_persons"))
        activities = dict(rows(con, "select activity_id, person_id from intermediate.int_funnel__sales_activities"))
        status_sources: dict[str, set] = {}
        status_changes = "select lead_id, change_source from intermediate.int_funnel__lead_status_changes"
        for lead, source in rows(con, status_changes):
            status_sources.setdefault(lead, set()).add(source)
        mql = dict(rows(con, "select person_id, mql_touchpoint_id from marts.fct_lead_funnel"))
        funnel = {row[0]: row[1:] for row in rows(
            con, "select person_id, sql_at, opportunity_id, won_amount, first_response_at, recycled_count "
            "from marts.fct_lead_funnel")}
        attribution: dict[str, dict] = {}
        for opportunity, touch, touch_type, amount in rows(
            con, "select opportunity_id, touchpoint_id, touch_type, amount from marts.fct_attribution"
        ):
            attribution.setdefault(opportunity, {})[touch] = (touch_type, amount)
        # The leads the build just re-derived: its compiled select of stg_salesforce__leads, run
        # against what it built (its batch bounds are literals, so it selects the same rows again).
        leads_select = (settings.warehouse_dir / "dbt_target" / "compiled" / LEADS_MODEL).read_text()
        rederived = {row[0] for row in rows(con, leads_select)}
        return {"touches": touches, "person": person, "industry": industry, "activities": activities,
                "status_sources": status_sources, "mql": mql, "funnel": funnel, "attribution": attribution,
                "rederived_leads": rederived}
    finally:
        con.close()


def _without_build_history(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """The tables less what records builds rather than raw: the replaced-partitions logs and the
    marks of the last build read from them (`replaced:<model>`), which differ in build numbers."""
    return {
        name: [row for row in table if not (name.endswith("__state_marks") and str(row[0]).startswith("replaced:"))]
        for name, table in tables.items()
        if not name.endswith(REPLACED_LOG)
    }


def _replaced_in_place(applied: str) -> bool:
    """dbt's applied SQL deletes and inserts into the built table, with no `create table ... as` of it."""
    return "delete from" in applied and not re.search(r"create\s+table\b[^;(]*\bas\s*\(", applied)


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory):
    """(A after each step, A after a nothing-new build, B after one full refresh of the same raw, probes of A)."""
    alignment = ALIGNMENT
    nightly = Settings(warehouse_dir=tmp_path_factory.mktemp("nightly") / "warehouse")
    con = connect()
    ensure_every_object_has_a_schema(con, nightly.raw_dir, "test")
    con.close()
    rebuilt = Settings(warehouse_dir=tmp_path_factory.mktemp("rebuilt") / "warehouse")
    after_steps, probes = [], []
    with ThreadPoolExecutor(max_workers=1) as background:
        for step in STEPS:
            _land(nightly, step)
            if step is STEPS[-1]:  # B: all raw, one full refresh, built while A runs its last builds
                shutil.copytree(nightly.raw_dir, rebuilt.raw_dir)
                full_refresh = background.submit(run_dbt, rebuilt, alignment, *BUILD, "--full-refresh")
            run_dbt(nightly, alignment, *BUILD)
            after_steps.append(table_rows(nightly.warehouse_path, SCHEMAS))
            probes.append(_probe(nightly))
        run_dbt(nightly, alignment, *BUILD)
        nothing_new = table_rows(nightly.warehouse_path, SCHEMAS)
        full_refresh.result()
    return nightly, after_steps, nothing_new, table_rows(rebuilt.warehouse_path, SCHEMAS), probes


def test_nightly_builds_read_only_new_batches(warehouses):
    nightly, *_ = warehouses
    leads = Path("closedloop", "models", "staging", "salesforce", "stg_salesforce__leads.sql")
    selected = (nightly.warehouse_dir / "dbt_target" / "compiled" / leads).read_text()
    applied = (nightly.warehouse_dir / "dbt_target" / "run" / leads).read_text()
    assert "_batch_id > '" in selected
    assert _replaced_in_place(applied)


def test_nightly_builds_rederive_only_the_keys_they_landed(warehouses):
    """Step 2 re-lands three leads whose current version sits in step 1's batch, next to other
    leads: only those three (and one new lead) are re-derived, not every winner of that batch."""
    *_, probes = warehouses
    first_batch = {record["Id"] for record in STEPS[0][("salesforce", "Lead")]}
    landed = {record["Id"] for record in STEPS[1][("salesforce", "Lead")]}
    assert len(first_batch - landed) >= 3 and len(landed & first_batch) == 3
    assert probes[1]["rederived_leads"] == landed


def test_nightly_builds_recompute_only_affected_people_and_opportunities(warehouses):
    nightly, *_ = warehouses
    path = Path("closedloop", "models", "intermediate", "touchpoints", "int_touchpoints.sql")
    selected = (nightly.warehouse_dir / "dbt_target" / "compiled" / path).read_text()
    applied = (nightly.warehouse_dir / "dbt_target" / "run" / path).read_text()
    # the change set against the model's own state, not the every-key rebuild
    assert "changes_identity_people" in selected and "_batch_id > '" in selected
    assert _replaced_in_place(applied)
    # the people-level models after them: the people their upstream logged, not every person
    for model, change_set in (("intermediate/identity/int_persons.sql", "changed_person_records"),
                              ("intermediate/identity/int_identity__person_emails.sql", "replaced_by_int_person_keys"),
                              ("intermediate/funnel/int_funnel__sales_activities.sql", "changed_activities"),
                              ("intermediate/funnel/int_funnel__lead_status_changes.sql", "changed_keys"),
                              ("intermediate/funnel/int_funnel__person_crm_dates.sql", "changed_keys"),
                              ("intermediate/funnel/int_funnel__person_scores.sql", "replaced_by_int_touchpoints"),
                              ("marts/fct_attribution.sql", "replaced_by_int_touchpoints"),
                              ("marts/fct_lead_funnel.sql", "changed_first_opportunities")):
        path = Path("closedloop", "models", model)
        selected = (nightly.warehouse_dir / "dbt_target" / "compiled" / path).read_text()
        applied = (nightly.warehouse_dir / "dbt_target" / "run" / path).read_text()
        assert change_set in selected and "every person, before and now" not in selected, model
        assert _replaced_in_place(applied), model


def test_nightly_builds_recompute_only_changed_records_and_their_people(warehouses):
    nightly, *_ = warehouses
    for model in ("int_identity__records.sql", "int_person_keys.sql"):
        path = Path("closedloop", "models", "intermediate", "identity", model)
        selected = (nightly.warehouse_dir / "dbt_target" / "compiled" / path).read_text()
        applied = (nightly.warehouse_dir / "dbt_target" / "run" / path).read_text()
        # only the staging rows changed since the model's marks, replaced in place
        assert "_batch_id > '" in selected, model
        assert _replaced_in_place(applied), model


def test_incremental_builds_equal_a_full_refresh_table_by_table(warehouses):
    _, after_steps, _, rebuilt, _ = warehouses
    built, rebuilt = _without_build_history(after_steps[-1]), _without_build_history(rebuilt)
    assert {name.split(".")[0] for name in rebuilt} == set(SCHEMAS)
    assert {"marts.fct_lead_funnel", "marts.fct_attribution"} <= set(rebuilt)
    assert set(built) == set(rebuilt)
    # the models' own tables first, then the state the incremental models keep (<model>__state_*)
    for name in sorted(rebuilt, key=lambda name: "__state_" in name):
        assert built[name] == rebuilt[name], name


def test_the_current_version_wins_across_nightly_builds(warehouses):
    _, after_steps, _, _, _ = warehouses
    leads = {row[0]: row for row in after_steps[-1]["staging.stg_salesforce__leads"]}
    status, email, deleted = 4, 1, 16
    assert leads["00Q_UPDATED"][status] == "Working - Contacted"
    assert (leads["00Q_REEXTRACT"][status], leads["00Q_REEXTRACT"][email]) == ("Qualified", "reextract@example.com")
    assert leads["00Q_TIE"][status] == "Accepted"
    assert leads["00Q_NEW"][status] == "Nurture"
    assert leads["00Q_DELETED"][deleted] is True
    assert after_steps[0]["staging.stg_salesforce__leads"] != after_steps[-1]["staging.stg_salesforce__leads"]
    contacts = {row[0]: row for row in after_steps[-1]["staging.stg_hubspot__contacts"]}
    assert contacts["502"][1] == "hubspot-only@example.com"
    assert (contacts["503"][1], contacts["503"][-3]) == ("tie-hubspot@example.com", False)
    funnel = after_steps[-1]["marts.fct_lead_funnel"]
    assert funnel and after_steps[-1]["marts.fct_attribution"]


def test_a_build_with_nothing_new_changes_no_table(warehouses):
    _, after_steps, nothing_new, _, _ = warehouses
    assert nothing_new == after_steps[-1]


def test_a_warehouse_staged_before_the_normalized_email_columns_still_matches_its_old_rows(warehouses, tmp_path):
    """The HubSpot email events' recipient_normalized and the form submissions' email_normalized
    came after warehouses were built with those tables: a nightly build adds the columns, empty for
    the rows staged before, and the touchpoints match those rows by their raw address, as a full
    refresh of the same raw does."""
    nightly, *_ = warehouses
    upgraded = Settings(warehouse_dir=tmp_path / "upgraded" / "warehouse")
    shutil.copytree(nightly.warehouse_dir, upgraded.warehouse_dir, ignore=shutil.ignore_patterns("dbt_target"))
    con = connect(upgraded.warehouse_path)
    con.execute("alter table staging.stg_hubspot__email_events drop column recipient_normalized")
    con.execute("alter table staging.stg_hubspot__form_submissions drop column email_normalized")
    con.close()
    # the deleted lead's address again, spelled otherwise: its old email event and form submission
    # (staged before the columns) belong to the new lead's person only through the fallback
    _land(upgraded, {("salesforce", "Lead"): [_lead("00Q_BACK", "2024-05-01T00:00:00Z", "Open", " Gone@Example.com")]})
    run_dbt(upgraded, ALIGNMENT, *BUILD)
    rebuilt = Settings(warehouse_dir=tmp_path / "rebuilt" / "warehouse")
    shutil.copytree(upgraded.raw_dir, rebuilt.raw_dir)
    run_dbt(rebuilt, ALIGNMENT, *BUILD, "--full-refresh")

    con = connect(upgraded.warehouse_path, read_only=True)
    try:
        staged_before = rows(con, "select count(*) from staging.stg_hubspot__email_events "
                                  "where recipient_normalized is null and recipient is not null")[0][0]
        (person,) = rows(con, "select person_id from intermediate.int_person_keys where record_id = '00Q_BACK'")[0]
        touched = dict(rows(con, "select touchpoint_id, person_id from intermediate.int_touchpoints "
                                 "where touchpoint_id = 'hs_email:ev_G' or touchpoint_id like 'hs_form:F_NEWS:%'"))
    finally:
        con.close()
    assert staged_before > 0
    assert touched["hs_email:ev_G"] == person
    assert person in {owner for key, owner in touched.items() if key.startswith("hs_form:")}
    built = _without_build_history(table_rows(upgraded.warehouse_path, ("intermediate", "marts")))
    full = _without_build_history(table_rows(rebuilt.warehouse_path, ("intermediate", "marts")))
    assert set(built) == set(full)
    for name in sorted(full, key=lambda name: "__state_" in name):
        assert built[name] == full[name], name


def _form_touch(probe: dict, form_guid: str, person_id: str) -> tuple:
    (touch,) = [
        values
        for key, values in probe["touches"].items()
        if key.startswith(f"hs_form:{form_guid}:") and key.endswith(f":{person_id}")
    ]
    return touch


def test_the_steps_exercise_what_they_claim(warehouses):
    """The equality above only proves something if the steps really change these rows."""
    *_, probes = warehouses
    first, second, third, last = probes
    # JOIN BY EMAIL (step 4): the lead takes the person of the two-email pair, keyed by the other email.
    assert first["person"]["00Q_TWO"] == first["person"]["003_TWO"] != first["person"]["00Q_JOINER"]
    assert last["person"]["00Q_JOINER"] == last["person"]["00Q_TWO"] == first["person"]["00Q_TWO"]
    # LINK TARGET EDITED (step 3): still one person, now keyed by the lead's email, the smaller one.
    assert second["person"]["00Q_LINKED"] == second["person"]["003_LINKED"]
    assert third["person"]["00Q_LINKED"] == third["person"]["003_LINKED"] != second["person"]["003_LINKED"]
    # MERGE (step 2): HubSpot contact 504 joins lead 00Q_MERGE's person; its touches follow it into 006_M.
    assert first["person"]["504"] != first["person"]["00Q_MERGE"]
    assert second["person"]["504"] == second["person"]["00Q_MERGE"] == second["person"]["003_M"]
    merged = second["person"]["504"]
    assert {"hs_visit:504", "hs_email:ev_M", "sf_cm:00v_M"} <= set(second["attribution"]["006_M"])
    assert _form_touch(second, "F_NEWS", merged)[2] == "organic_search"
    assert not any(key.startswith("hs_visit:504") for key in first["attribution"]["006_M"])
    # First-visit source change (step 2): 505's form submission falls back to the new channel.
    assert _form_touch(first, "F_NEWS", first["person"]["505"])[2] == "direct"
    assert _form_touch(second, "F_NEWS", second["person"]["505"])[2] == "social"
    # Campaign Type change (step 2) and new touches of an existing person.
    assert first["touches"]["sf_cm:00v_A"][1:] == ("webinar_attended", "webinar")
    assert second["touches"]["sf_cm:00v_A"][1:] == ("ad_click", "paid_social")
    assert {"hs_email:ev_C", "sf_cm:00v_C2"} <= set(second["attribution"]["006_A"])
    # A touch alone (step 4): 006_A's attribution takes it, though nothing else of 006_A changed.
    assert "hs_email:ev_C4" not in third["attribution"]["006_A"] and "hs_email:ev_C4" in last["attribution"]["006_A"]
    assert third["mql"][third["person"]["003_A"]] == last["mql"][last["person"]["003_A"]]
    # New DatedConversionRate (step 2), then amount and close date changes (step 3).
    assert {round(amount, 6) for _, amount in first["attribution"]["006_M"].values()} == {round(2000 / 0.9, 6)}
    assert {round(amount, 6) for _, amount in second["attribution"]["006_M"].values()} == {round(2000 / 1.1, 6)}
    assert {round(amount, 6) for _, amount in third["attribution"]["006_M"].values()} == {round(2500 / 0.9, 6)}
    # SPLIT (step 3): the lead leaves 505's person and takes 006_S away from 505's touches.
    assert second["person"]["00Q_SPLIT"] == second["person"]["505"]
    assert third["person"]["00Q_SPLIT"] != third["person"]["505"]
    assert "hs_visit:505" in second["attribution"]["006_S"] and "hs_visit:505" not in third["attribution"]["006_S"]
    # Deleted lead with touches (step 3): its touches go, its opportunity is unattributed.
    assert {"sf_cm:00v_G", "hs_email:ev_G"} <= set(second["touches"]) and "sf_cm:00v_G" in second["attribution"][
        "006_G"
    ]
    assert not {"sf_cm:00v_G", "hs_email:ev_G"} & set(third["touches"])
    assert not any(key.startswith("hs_form:F_NEWS:") and "gone" in key for key in third["touches"])
    assert third["attribution"]["006_G"] == {None: ("unattributed", 500.0)}
    # Form renamed into a demo form (step 3): a demo_request that makes its person an MQL (w-shaped lead role).
    converted = third["person"]["00Q_CONVERTED"]
    assert _form_touch(second, "F_WP", converted)[1] == "form_submission" and second["mql"][converted] is None
    assert _form_touch(third, "F_WP", converted)[1] == "demo_request"
    assert third["mql"][converted].startswith("hs_form:F_WP:")
    # New contact role (step 4): 003_X's touch joins 006_S.
    assert "sf_cm:00v_X" not in third["attribution"]["006_S"] and "sf_cm:00v_X" in last["attribution"]["006_S"]
    # ACCOUNT EDIT (step 4): a person whose only record is a contact at 001_B follows its industry out
    # of the fit rule (industries: [Software]) and loses its MQL.
    fit = last["person"]["003_FIT"]
    assert (third["industry"][fit], last["industry"][fit]) == ("Software", "Banking")
    assert third["mql"][fit].startswith("hs_form:F_DEMO:") and last["mql"][fit] is None
    # ACTIVITY MOVED (step 3): a Task's WhoId edit takes it from one person to another.
    assert second["activities"]["00T_MOVE"] == second["person"]["00Q_UPDATED"] != third["person"]["003_X"]
    assert third["activities"]["00T_MOVE"] == third["person"]["003_X"]
    # NEW EVENT and HISTORY OF AN UNCHANGED LEAD (step 4).
    assert "00U_NEW" not in third["activities"] and last["activities"]["00U_NEW"] == fit
    # FIRST RESPONSE (step 3): a new Task answers 003_FIT's MQL.
    assert (second["funnel"][fit][3], third["funnel"][fit][3]) == (None, datetime(2024, 1, 5, 0, 30))
    assert (third["status_sources"]["00Q_CONVERTED"], last["status_sources"]["00Q_CONVERTED"]) == (
        {"current_status"}, {"lead_history"})
    assert (third["funnel"][converted][4], last["funnel"][converted][4]) == (0, 1)  # recycled into Nurture
    # OPPORTUNITY DELETED (step 4): the converted lead's date now counts as its person's sql_at.
    dropped = last["person"]["00Q_DROP"]
    assert third["funnel"][dropped][:3] == (datetime(2024, 3, 10), "006_FIRST", None)
    assert last["funnel"][dropped][:3] == (datetime(2024, 3, 1), "006_FIRST", None)
    # OPPORTUNITY WON (step 3): its person's won_amount follows the first opportunity's new figures.
    assert second["funnel"][merged][2] is None and third["funnel"][merged][2] == pytest.approx(2500 / 0.9)
    # A new touch takes 006_M's person across the MQL threshold (step 4).
    assert third["mql"][merged] is None and last["mql"][merged].startswith("hs_form:F_DEMO:")
    assert last["mql"][merged] in last["attribution"]["006_M"]
