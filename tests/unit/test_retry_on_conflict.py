from __future__ import annotations

import pytest
from django.db import OperationalError

from secondhand_site.services.base import retry_on_conflict


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def failing(times: int, sqlstate: str):
    calls = []

    @retry_on_conflict
    def service():
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("aborted") from PgError(sqlstate)
        return "done"

    return service, calls


@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_service_is_run_again_and_succeeds():
    service, calls = failing(2, "40P01")
    assert service() == "done"
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_it_gives_up_after_three_tries():
    service, calls = failing(5, "40001")
    with pytest.raises(OperationalError):
        service()
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried():
    service, calls = failing(1, "23505")
    with pytest.raises(OperationalError):
        service()
    assert len(calls) == 1


@pytest.mark.django_db
def test_it_does_not_retry_inside_an_outer_transaction():
    # Inside a transaction the aborted work cannot be redone piecemeal: the caller must.
    service, calls = failing(1, "40P01")
    with pytest.raises(OperationalError):
        service()
    assert len(calls) == 1
