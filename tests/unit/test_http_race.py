"""A race as members make it: twenty browsers book one item at the same moment, through
the real `secondhand serve --workers 4`. The database picks one winner; everyone else is
told the item was just taken. Nobody sees an error page.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from realserver import (
    Client,
    Response,
    catalog_item_ids,
    server_env,
    set_up_site,
    shell,
    start_server,
    wait_ready,
    watched,
)

RACERS = 20

# Run by `secondhand manage shell -c` once the race is over: what the database holds.
_AFTERMATH = """
import json
from secondhand_site.models import Booking, Change, Item
item = Item.objects.get(pk={item})
print(json.dumps({{
    "status": item.status,
    "active": list(Booking.objects.active().filter(item=item)
                   .values_list("member__email", flat=True)),
    "bookings": Booking.objects.filter(item=item).count(),
    "booked_changes": Change.objects.filter(item=item, action="booked").count(),
}}))
"""


def test_twenty_members_booking_one_item_at_once_get_one_200_and_nineteen_409s(
        request, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    env = server_env(data)
    emails = [f"racer{n:02}@example.com" for n in range(RACERS)]
    set_up_site(env, data, emails=emails, items=1)
    server = start_server("secondhand serve --workers 4", data, tmp_path / "serve.log", env,
                          workers=4)
    with watched(request, [server]):
        wait_ready(server)
        [item] = catalog_item_ids(server.client())

        # Everyone logs in first (allauth's login limits are about logging in, not booking).
        clients = [server.client() for _ in emails]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(Client.log_in, clients, emails))

        barrier = threading.Barrier(RACERS)

        def book(client: Client) -> Response:
            barrier.wait(timeout=30)
            return client.post(f"/items/{item}/book/", htmx=True)

        with ThreadPoolExecutor(RACERS) as pool:
            responses = list(pool.map(book, clients))

        statuses = Counter(r.status for r in responses)
        odd = [r for r in responses if r.status not in {200, 409}]
        assert statuses == {200: 1, 409: RACERS - 1}, (
            f"{dict(statuses)}; {f'the first odd one: {odd[0]}' if odd else ''}")
        winner = next(email for email, r in zip(emails, responses, strict=True)
                      if r.status == 200)
        for response in responses:
            assert "<html" not in response.text  # htmx gets the fragment, not a page
            if response.status == 409:
                assert "was just booked by someone else" in response.text
            else:
                assert "You booked" in response.text

        page = server.client().get(f"/items/{item}/")
        assert page.status == 200
        assert "Booked" in page.text

        aftermath = json.loads(shell(env, data, _AFTERMATH.format(item=item)).splitlines()[-1])
        assert aftermath == {"status": "booked", "active": [winner], "bookings": 1,
                             "booked_changes": 1}
        assert "Traceback" not in server.log_text()
