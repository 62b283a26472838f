"""`manage.py rollups --check | --rebuild [--org NAME] [--since ISO] [--until ISO]`.

--check compares the call rollups with the calls they count and prints one line per tuple that
differs; it exits 1 when any does (so a deploy script or a benchmark can stop on drift).
--rebuild recomputes the rollups from the calls. Both work on the hourly and the daily rollups
and on whole UTC days: a range is widened to the days it touches.
"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from callops.accounts.models import Organization
from callops.calls import rollup_reconcile


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not an ISO 8601 time: {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Compare the call rollups with the calls (--check) or recompute them (--rebuild)."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--check", action="store_true", help="print drift; exit 1 when there is any")
        mode.add_argument("--rebuild", action="store_true", help="recompute the rollups from the calls")
        parser.add_argument("--org", help="only this organization (its name)")
        parser.add_argument("--since", help="from this time (ISO 8601, UTC when no offset is given)")
        parser.add_argument("--until", help="up to this time, exclusive")

    def handle(self, *args, check, rebuild, org, since, until, **options):
        org_id = None
        if org:
            found = Organization.objects.filter(name=org).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"no organization named {org!r}")
            org_id = found
        start, end = _when(since), _when(until)
        if start and end and start >= end:
            raise CommandError("--since must be before --until")
        if rebuild:
            written = rollup_reconcile.rebuild(org_id=org_id, since=start, until=end)
            self.stdout.write(f"rebuilt {written} rollup rows")
            return
        drift = rollup_reconcile.check(org_id=org_id, since=start, until=end)
        for d in drift:
            self.stdout.write(d.describe())
        if drift:
            self.stderr.write(f"drift in {len(drift)} rollup rows (manage.py rollups --rebuild repairs it)")
            raise SystemExit(1)
        self.stdout.write("rollups match the calls")
