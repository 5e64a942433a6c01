-- Where SPEC's stage rules guarantee it, funnel counts never increase down the funnel:
-- every person counted has a lead date; sal_at needs mql_at; an opportunity makes an SQL
-- (sql_at is at the latest opportunity_at); won_at is the close of the person's opportunity.
select *
from {{ ref('mart_funnel_conversion') }}
where mqls > leads
    or sals > mqls
    or sqls > leads
    or opportunities > sqls
    or won > opportunities
