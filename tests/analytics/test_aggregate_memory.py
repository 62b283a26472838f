"""The rollup reads' room to hash (callops.lib.aggregate_memory): for their transaction only."""

import pytest
from django.db import connection

from callops.lib.aggregate_memory import WORK_MEM_MB, hash_room


def _work_mem() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_work_mem_is_raised_inside_the_block_and_back_after_it():
    if connection.vendor != "postgresql":
        pytest.skip("work_mem is PostgreSQL's")
    before = _work_mem()
    assert before != f"{WORK_MEM_MB}MB"
    with hash_room():
        assert _work_mem() == f"{WORK_MEM_MB}MB"
    assert _work_mem() == before  # SET LOCAL ended with the block's transaction
