"""The demo source: deterministic, in the API shapes of the raw registry, realistic in aggregate."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.alignment import Alignment
from orchestration.duck import connect, rows, scalar
from orchestration.raw_schema import LINEAGE_COLUMNS, RAW_OBJECTS, Kind, raw_object
from orchestration.settings import Settings
from orchestration.sources import SYSTEMS
from orchestration.sources.demo import extract

PEOPLE = 3000
SF_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"


def _extract(root: Path, people: int = PEOPLE, seed: int = 42):
    settings = Settings(warehouse_dir=root, demo_people=people, demo_seed=seed)
    return extract(settings, Alignment(), SYSTEMS), settings.raw_dir


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    report, raw_dir = _extract(tmp_path_factory.mktemp("demo"))
    return report, raw_dir


@pytest.fixture(scope="module")
def con(landed):
    _, raw_dir = landed
    con = connect()
    for obj in RAW_OBJECTS:
        con.execute(f"create view {obj.system}_{obj.name.lower()} as "
                    f"select * from read_parquet('{raw_dir}/{obj.folder}/*.parquet', union_by_name = true)").fetchall()
    return con


def _content(raw_dir: Path, obj) -> list[tuple]:
    """Every landed row of an object without lineage columns, sorted (order is not part of the contract)."""
    con = connect()
    columns = ", ".join(f'"{name}"' for name in obj.fields)
    return rows(con, f"select {columns} from read_parquet('{raw_dir}/{obj.folder}/*.parquet', union_by_name = true) "
                     f"order by all")


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    _, first = _extract(tmp_path / "a", people=400)
    _, second = _extract(tmp_path / "b", people=400)
    _, other = _extract(tmp_path / "c", people=400, seed=7)
    for obj in RAW_OBJECTS:
        assert _content(first, obj) == _content(second, obj), obj.folder
    differing = [obj.folder for obj in RAW_OBJECTS if _content(first, obj) != _content(other, obj)]
    assert {"salesforce/Lead", "salesforce/Opportunity", "hubspot/contacts", "hubspot/email_events"} <= set(differing)


def test_every_object_lands_with_every_field_and_lineage(landed, con):
    report, raw_dir = landed
    landed_rows = report.rows_by_object()
    for obj in RAW_OBJECTS:
        assert list((raw_dir / obj.folder).glob("*.parquet")), obj.folder
        columns = {row[0] for row in rows(con, f"describe {obj.system}_{obj.name.lower()}")}
        assert set(obj.fields) | set(LINEAGE_COLUMNS) <= columns, obj.folder
        if obj.system != "quarantine":
            assert landed_rows.get(obj.folder, 0) > 0, obj.folder
    assert "salesforce/Lead" in landed_rows and "quarantine/records" not in landed_rows


def test_required_fields_are_never_null(con):
    for obj in RAW_OBJECTS:
        if obj.system == "quarantine":
            continue
        view = f"{obj.system}_{obj.name.lower()}"
        for field in obj.required:
            assert scalar(con, f'select count(*) from {view} where "{field}" is null') == 0, f"{obj.folder}.{field}"


def test_values_have_the_api_formats(con):
    for obj in RAW_OBJECTS:
        view = f"{obj.system}_{obj.name.lower()}"
        for field, kind in obj.fields.items():
            column = f'"{field}"'
            if kind is Kind.DATETIME:
                bad = scalar(con, f"select count(*) from {view} where {column} is not null "
                                  f"and not regexp_full_match({column}, '{SF_DATETIME}')")
            elif kind is Kind.DATE:
                bad = scalar(con, f"select count(*) from {view} where {column} is not null "
                                  f"and try_strptime({column}, '%Y-%m-%d') is null")
            elif kind is Kind.BOOLEAN:
                bad = scalar(con, f"select count(*) from {view} where {column} not in ('true', 'false')")
            elif kind in (Kind.INTEGER, Kind.NUMBER):
                bad = scalar(con, f"select count(*) from {view} where {column} is not null "
                                  f"and try_cast({column} as double) is null")
            elif kind is Kind.EPOCH_OR_ISO:
                bad = scalar(con, f"select count(*) from {view} where {column} is not null "
                                  f"and try_cast({column} as bigint) is null "
                                  f"and try_strptime({column}, '%Y-%m-%dT%H:%M:%S.%gZ') is null")
            elif kind is Kind.JSON:
                bad = scalar(con, f"select count(*) from {view} where {column} is not null "
                                  f"and not json_valid({column})")
            else:
                continue
            assert bad == 0, f"{obj.folder}.{field} ({kind})"
    # Salesforce datetimes parse as timestamps, and nothing happens after the demo's end date
    assert scalar(con, "select max(strptime(CreatedDate, '%Y-%m-%dT%H:%M:%S.%g+0000')) from salesforce_task") \
        < scalar(con, "select timestamp '2026-10-31'")


def test_ids_are_unique_per_batch(con):
    for obj in RAW_OBJECTS:
        if not obj.key or obj.system == "quarantine":
            continue
        view = f"{obj.system}_{obj.name.lower()}"
        key = ", ".join(f'"{field}"' for field in obj.key)
        duplicates = scalar(con, f"select count(*) from (select _batch_id, {key} from {view} "
                                 f"group by all having count(*) > 1)")
        assert duplicates == 0, obj.folder


@pytest.mark.parametrize(("child", "column", "parent"), [
    ("salesforce_opportunitycontactrole", "OpportunityId", "salesforce_opportunity"),
    ("salesforce_opportunitycontactrole", "ContactId", "salesforce_contact"),
    ("salesforce_opportunitylineitem", "OpportunityId", "salesforce_opportunity"),
    ("salesforce_opportunityhistory", "OpportunityId", "salesforce_opportunity"),
    ("salesforce_leadhistory", "LeadId", "salesforce_lead"),
    ("salesforce_campaignmember", "CampaignId", "salesforce_campaign"),
    ("salesforce_campaignmember", "LeadId", "salesforce_lead"),
    ("salesforce_campaignmember", "ContactId", "salesforce_contact"),
    ("salesforce_contact", "AccountId", "salesforce_account"),
    ("salesforce_opportunity", "AccountId", "salesforce_account"),
    ("salesforce_opportunity", "CampaignId", "salesforce_campaign"),
    ("salesforce_lead", "ConvertedContactId", "salesforce_contact"),
    ("salesforce_lead", "ConvertedAccountId", "salesforce_account"),
    ("salesforce_lead", "ConvertedOpportunityId", "salesforce_opportunity"),
    ("salesforce_lead", "OwnerId", "salesforce_user"),
    ("salesforce_opportunity", "OwnerId", "salesforce_user"),
    ("salesforce_task", "OwnerId", "salesforce_user"),
])
def test_children_reference_existing_parents(con, child, column, parent):
    assert scalar(con, f"select count(*) from {child} where {column} is not null") > 0
    orphans = scalar(con, f"select count(*) from {child} where {column} is not null "
                          f"and {column} not in (select Id from {parent})")
    assert orphans == 0


def test_activities_point_at_leads_or_contacts_and_hubspot_links_resolve(con):
    assert scalar(con, "select count(*) from (select WhoId from salesforce_task union all "
                       "select WhoId from salesforce_event) where WhoId not in "
                       "(select Id from salesforce_lead union all select Id from salesforce_contact)") == 0
    links = rows(con, """
        select count(*) filter (where properties->>'salesforceleadid' is not null),
               count(*) filter (where properties->>'salesforceleadid' not in (select Id from salesforce_lead)),
               count(*) filter (where properties->>'salesforcecontactid' is not null),
               count(*) filter (where properties->>'salesforcecontactid' not in (select Id from salesforce_contact))
        from hubspot_contacts""")[0]
    assert links[0] > 0 and links[1] == 0 and links[2] > 0 and links[3] == 0
    forms = {row[0] for row in rows(con, "select coalesce(guid, id) from hubspot_forms")}
    assert {row[0] for row in rows(con, "select distinct formGuid from hubspot_form_submissions")} <= forms
    emails = {row[0] for row in rows(con, "select id from hubspot_marketing_emails")}
    assert {row[0] for row in rows(con, "select distinct emailCampaignId from hubspot_email_events")} <= emails


def test_ad_spend_names_paid_campaigns(con):
    unmatched = scalar(con, "select count(*) from spend_ad_spend where campaign_name not in "
                            "(select Name from salesforce_campaign where Type in ('Paid Search', 'Paid Social'))")
    assert unmatched == 0
    assert scalar(con, "select count(distinct currency) from spend_ad_spend") >= 2


def test_funnel_rates_look_like_b2b(con):
    # score each lead's touches with alignment.yml's default points, the way the pipeline does
    share_mql = scalar(con, """
        with lead_people as (
            select lower(trim(Email)) as email, Id from salesforce_lead where IsDeleted = 'false'
        ), touches as (
            select lower(trim(recipient)) as email, case type when 'CLICK' then 5 else 0 end as points
            from hubspot_email_events where type in ('OPEN', 'CLICK')
            union all
            select lower(trim(v.value->>'value')), case when f.name ilike '%demo%' or f.name ilike '%contact sales%'
                                                      then 50 else 20 end
            from hubspot_form_submissions s, unnest(json_extract(s."values", '$[*]')) v(value)
            join hubspot_forms f on coalesce(f.guid, f.id) = s.formGuid
            where v.value->>'name' = 'email'
            union all
            select lower(trim(l.Email)), case c.Type when 'Webinar' then 15 when 'Trade Show' then 15
                when 'Conference' then 15 when 'Content' then 10 when 'eBook' then 10 when 'Paid Search' then 3
                when 'Paid Social' then 3 when 'Email' then 5 else 20 end
            from salesforce_campaignmember m join salesforce_campaign c on m.CampaignId = c.Id
            join salesforce_lead l on m.LeadId = l.Id
            where m.HasResponded = 'true'
        ), scores as (
            select lead_people.Id, coalesce(sum(points), 0) as score
            from lead_people left join touches using (email) group by lead_people.Id
        )
        select avg((score >= 50)::int) from scores""")
    assert 0.15 <= share_mql <= 0.40, share_mql
    win_rate = scalar(con, "select avg((IsWon = 'true')::int) from salesforce_opportunity "
                           "where IsClosed = 'true' and IsDeleted = 'false'")
    assert 0.15 <= win_rate <= 0.35, win_rate
    assert scalar(con, "select count(distinct CurrencyIsoCode) from salesforce_opportunity") == 3
    assert scalar(con, "select count(distinct IsoCode) from salesforce_datedconversionrate") >= 2
    statuses = {row[0] for row in rows(con, "select distinct NewValue from salesforce_leadhistory "
                                            "where Field = 'Status'")}
    assert {"Working - Contacted", "Qualified", "Disqualified", "Nurture"} <= statuses
    sales_sourced_with_touches = scalar(con, """
        select count(*) from salesforce_lead l join salesforce_campaignmember m on m.LeadId = l.Id
        where l.LeadSource in ('Outbound', 'Cold Call') and m.HasResponded = 'true'""")
    assert sales_sourced_with_touches == 0
    assert scalar(con, "select count(*) from salesforce_lead where LeadSource in ('Outbound', 'Cold Call')") > 100


def test_speed_to_lead_has_a_long_tail(con):
    # minutes from each lead's first Working status to its first task or event: spread over minutes to days
    waits = rows(con, """
        with first_activity as (
            select WhoId, min(CreatedDate) as at from (select WhoId, CreatedDate from salesforce_task
                                                       union all select WhoId, CreatedDate from salesforce_event)
            group by WhoId
        ), mql as (
            select Id, strptime(properties->>'hs_lifecyclestage_marketingqualifiedlead_date',
                                '%Y-%m-%dT%H:%M:%S.%gZ') as at, properties->>'salesforceleadid' as lead_id
            from hubspot_contacts where properties->>'hs_lifecyclestage_marketingqualifiedlead_date' is not null
        )
        select date_diff('minute', mql.at, strptime(first_activity.at, '%Y-%m-%dT%H:%M:%S.%g+0000')) as minutes
        from mql left join first_activity on first_activity.WhoId = mql.lead_id
        where mql.lead_id is not null""")
    minutes = [row[0] for row in waits]
    answered = [m for m in minutes if m is not None and m >= 0]
    assert any(m < 5 for m in answered) and any(m > 24 * 60 for m in answered)
    assert any(m is None for m in minutes)  # some MQLs are never answered


def test_deleted_archived_and_second_batch_versions(con):
    for view in ("salesforce_lead", "salesforce_opportunity", "salesforce_task"):
        assert scalar(con, f"select count(*) from {view} where IsDeleted = 'true'") > 0, view
    assert scalar(con, "select count(*) from hubspot_contacts where archived = 'true'") > 0
    for view, key, version in (("salesforce_lead", "Id", "SystemModstamp"),
                               ("salesforce_opportunity", "Id", "SystemModstamp"),
                               ("hubspot_contacts", "id", "updatedAt")):
        assert scalar(con, f"select count(distinct _batch_id) from {view}") == 2, view
        versions = rows(con, f"""
            select count(*), count(*) filter (where later_version > earlier_version)
            from (select {key}, arg_max({version}, _batch_id) as later_version,
                         arg_min({version}, _batch_id) as earlier_version
                  from {view} group by {key} having count(*) > 1)""")[0]
        records = scalar(con, f"select count(distinct {key}) from {view}")
        assert 0.02 * records <= versions[0] <= 0.08 * records, view
        assert versions[0] == versions[1], view  # the second batch always holds the newer version


def test_converted_leads_have_contacts_roles_and_line_items(con):
    converted = rows(con, """
        select count(*), count(*) filter (where ConvertedContactId is null or ConvertedDate is null)
        from salesforce_lead where IsConverted = 'true'""")[0]
    assert converted[0] > 50 and converted[1] == 0
    assert scalar(con, """
        select count(*) from salesforce_lead l where l.ConvertedOpportunityId is not null and not exists (
            select 1 from salesforce_opportunitycontactrole r
            where r.OpportunityId = l.ConvertedOpportunityId and r.ContactId = l.ConvertedContactId
              and r.IsPrimary = 'true')""") == 0
    mismatched = scalar(con, """
        select count(*) from salesforce_opportunitylineitem
        where abs(TotalPrice::double - UnitPrice::double * Quantity::double) > 0.011
           or UnitPrice::double > ListPrice::double""")
    assert mismatched == 0
    discounted = scalar(con, """
        select avg((1 - sum_total / sum_list > 0.2)::int) from (
            select OpportunityId, sum(TotalPrice::double) as sum_total,
                   sum(ListPrice::double * Quantity::double) as sum_list
            from salesforce_opportunitylineitem group by 1)""")
    assert 0.05 <= discounted <= 0.4
    assert scalar(con, "select count(*) from salesforce_account where NumberOfEmployees is null") > 0


def test_anonymous_form_submissions_are_reported(landed, con):
    report, _ = landed
    without_email = scalar(con, "select count(*) from hubspot_form_submissions "
                                "where not contains(\"values\", '\"name\":\"email\"')")
    assert without_email > 0
    assert any(note.startswith(f"{without_email} form submissions without an email") for note in report.notes)


def test_only_requested_systems_land(tmp_path):
    settings = Settings(warehouse_dir=tmp_path, demo_people=200, demo_seed=1)
    report = extract(settings, Alignment(), ["spend"])
    assert set(report.rows_by_object()) == {"spend/ad_spend"}
    assert raw_object("salesforce", "Lead").folder in {p.relative_to(settings.raw_dir).as_posix()
                                                      for p in settings.raw_dir.glob("*/*")}  # schema-only
    with pytest.raises(ValueError, match="unknown system"):
        extract(settings, Alignment(), ["crm"])


def test_landing_the_same_demo_org_twice_lands_nothing_new(tmp_path):
    from orchestration.alignment import Alignment
    from orchestration.settings import Settings
    from orchestration.sources import demo

    settings = Settings(warehouse_dir=tmp_path / "warehouse", demo_people=50, demo_seed=3)
    first = demo.extract(settings, Alignment(), ["salesforce"])
    assert first.rows_by_object()["salesforce/Lead"] > 0
    again = demo.extract(settings, Alignment(), ["salesforce", "hubspot"])
    assert set(folder.split("/")[0] for folder in again.rows_by_object()) == {"hubspot"}
    third = demo.extract(settings, Alignment(), ["salesforce", "hubspot"])
    assert third.rows_by_object() == {} and any("nothing new" in note for note in third.notes)
    bigger = Settings(warehouse_dir=tmp_path / "warehouse", demo_people=60, demo_seed=3)
    assert demo.extract(bigger, Alignment(), ["salesforce"]).rows_by_object()
