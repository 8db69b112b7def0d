"""The search attributes operators filter jobs by (DECISIONS D9); all Keyword."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

JOB_TYPE = SearchAttributeKey.for_keyword("JobType")
PRODUCTION_PATH = SearchAttributeKey.for_keyword("ProductionPath")
JOB_STATUS = SearchAttributeKey.for_keyword("JobStatus")
ORG_ID = SearchAttributeKey.for_keyword("OrgId")
MEMBER_ID = SearchAttributeKey.for_keyword("MemberId")

ALL = (JOB_TYPE, PRODUCTION_PATH, JOB_STATUS, ORG_ID, MEMBER_ID)
