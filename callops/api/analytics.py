"""GET /v1/analytics/providers: providers, agents, batches or routing profiles compared over a period.

Read from the call rollups only (callops.analytics.comparison), so it costs the same at ten
million calls as at a thousand; the calls counted are those created in the period.
"""

from typing import Literal

from django.http import JsonResponse
from django.utils import timezone
from ninja import Query, Router
from pydantic import BaseModel, Field

from callops.analytics import comparison, periods

from . import schemas
from .base import ApiError, query_datetime
from .schemas import declare

router = Router(tags=["analytics"])


class CostOut(BaseModel):
    currency: str = Field(description="ISO 4217 code")
    total_milli_cents: int
    per_call_milli_cents: int | None = Field(description="total over all the group's calls")
    per_completed_call_milli_cents: int | None = Field(description="total over the group's completed calls")
    estimated: bool = Field(description="some of the total came from the account's price table, not the provider")


class TalkTimeOut(BaseModel):
    calls: int = Field(description="answered calls with a duration")
    average_seconds: float | None
    p90_seconds: int | None = Field(description="upper edge of the histogram bucket holding the 90th percentile")


class TimeToAnswerOut(BaseModel):
    calls: int = Field(description="calls with both a ringing and an answer time")
    average_seconds: float | None


class GroupOut(BaseModel):
    key: str | None = Field(description="the provider account's, agent's, batch's or routing profile's id; "
                                        "null for calls without a batch or profile, or one since deleted")
    name: str
    provider: str | None = Field(description="the provider kind (group_by provider or agent)")
    calls: int
    finished: int = Field(description="terminal calls except canceled ones: the rates' denominator")
    answered: int
    completed: int
    answer_rate: float | None
    completion_rate: float | None
    extraction_attempted: int
    extraction_succeeded: int
    extraction_success_rate: float | None
    talk_time: TalkTimeOut
    time_to_answer: TimeToAnswerOut
    cost: list[CostOut] = Field(description="one entry per currency the group's calls were billed in")
    failovers: int = Field(description="calls whose routing took more than one attempt")


class BucketOut(BaseModel):
    start: str
    end: str
    calls: int
    answered: int
    completed: int
    failovers: int
    calls_by_group: list[int] = Field(description="calls of each entry of `data`, in its order")


class ComparisonOut(BaseModel):
    object: Literal["provider_comparison"]
    group_by: Literal["provider", "agent", "batch", "profile"]
    since: str
    until: str
    interval: Literal["hour", "day"]
    tz: str
    data: list[GroupOut]
    series: list[BucketOut]


DESCRIPTION = (
    "Calls created in [since, until), widened to whole UTC hours, grouped by provider account, agent, "
    f"batch or routing profile. since defaults to a week before until, until to now; the period is at "
    f"most {periods.MAX_RANGE.days} days. The series has hourly buckets up to "
    f"{periods.HOURLY_UP_TO.days} days and daily ones beyond (or as `interval` says; hourly for at most "
    f"{periods.MAX_HOURLY_RANGE.days} days); days are those of `tz`.")


@router.get("/analytics/providers", response={200: ComparisonOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="Compare providers, agents, batches or routing profiles over a period", description=DESCRIPTION)
def providers(
    request,
    since: str | None = declare(Query(None, max_length=64, description="start (ISO 8601)"), format="date-time"),
    until: str | None = declare(Query(None, max_length=64, description="end, exclusive (ISO 8601)"),
                                format="date-time"),
    group_by: Literal["provider", "agent", "batch", "profile"] = Query("provider"),
    interval: Literal["hour", "day"] | None = Query(None, description="chart buckets; by the period's length "
                                                                      "when absent"),
    tz: str | None = Query(None, max_length=64, description="IANA time zone of the daily buckets (default UTC)"),
):
    try:
        period = periods.period(query_datetime("since", since), query_datetime("until", until), interval=interval,
                                tz=periods.zone(tz), now=timezone.now())
    except periods.PeriodError as exc:
        raise ApiError(400, exc.message, fields={exc.field: exc.message})
    return JsonResponse(comparison.compare(request.org, group_by, period).as_dict())
