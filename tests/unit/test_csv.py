from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest

from secondhand_site import csv_io, services
from secondhand_site.csv_io import COLUMNS, RowError, export_items, import_items, iter_export_rows
from secondhand_site.models import Change, Item, Status


def add(owner, name="Oak chair", price="25.00", **fields):
    return services.create_item(actor=owner, name=name, price=Decimal(price), **fields)


@pytest.fixture
def stock(owner):
    """A small shop: a plain item, a sold one, an archived one and a booked one."""
    chair = add(owner, "Oak chair", "25.00", category="furniture", condition="like_new",
                description="Sturdy.\nTwo small scratches.")
    kettle = services.mark_sold(item=add(owner, "Kettle", "7.5", category="kitchen"), actor=owner)
    radio = services.archive_item(item=add(owner, "Old radio", "0"), actor=owner)
    bike = add(owner, "Bike", "80.00", category="sports")
    Item.objects.filter(pk=bike.pk).update(status=Status.BOOKED)
    return {"chair": chair, "kettle": kettle, "radio": radio, "bike": bike}


def export_text() -> str:
    out = io.StringIO()
    export_items(Item.objects.all(), out)
    return out.getvalue()


def exported_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export_text(), newline="")))


def run_import(text: str, owner):
    return import_items(text.encode("utf-8"), actor=owner)


def snapshot() -> tuple[int, int, list[tuple]]:
    items = list(Item.objects.order_by("pk").values_list("pk", "name", "price", "version"))
    return Item.objects.count(), Change.objects.count(), items


def where(result) -> list[tuple[int, str]]:
    return [(error.line, error.column) for error in result.errors]


# --- Export ------------------------------------------------------------------------------


def test_the_export_has_the_header_and_every_item_including_archived_and_sold(stock):
    text = export_text()
    rows = exported_rows()

    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert [int(row["id"]) for row in rows] == sorted(item.pk for item in stock.values())
    kettle = next(row for row in rows if row["name"] == "Kettle")
    assert kettle["price"] == "7.50"
    assert kettle["category"] == "kitchen"
    assert kettle["status"] == "sold"
    assert next(row for row in rows if row["name"] == "Old radio")["archived"] == "yes"
    assert next(row for row in rows if row["name"] == "Oak chair")["condition"] == "like_new"
    assert datetime.fromisoformat(kettle["created_at"]).tzinfo is not None


def test_the_export_escapes_cells_a_spreadsheet_would_run_as_formulas(owner):
    add(owner, '=HYPERLINK("http://evil.example","click")', description="+1 555 0100")
    add(owner, "@SUM(A1)", description="-- barely used")
    add(owner, "\tTabbed", description="plain words")

    rows = exported_rows()

    assert [row["name"] for row in rows] == [
        '\'=HYPERLINK("http://evil.example","click")', "'@SUM(A1)", "'\tTabbed"]
    assert [row["description"] for row in rows] == [
        "'+1 555 0100", "'-- barely used", "plain words"]
    assert all(row["price"] == "25.00" for row in rows)


def test_the_export_streams_one_line_per_item_after_the_header(stock):
    lines = list(iter_export_rows(Item.objects.all()))

    assert lines[0] == ",".join(COLUMNS) + "\r\n"
    assert len(lines) == 1 + len(stock)


# --- Import: what a good file does -------------------------------------------------------


def test_re_importing_an_export_reports_everything_unchanged_and_writes_nothing(stock, owner):
    add(owner, "=1+1", description="'quoted'\n-- and a dash")
    before = snapshot()

    result = run_import(export_text(), owner)

    assert result.ok
    assert (result.created, result.updated, result.unchanged) == (0, 0, 5)
    assert snapshot() == before


def test_editing_a_price_in_the_export_updates_that_item_and_logs_the_edit(stock, owner):
    chair = stock["chair"]
    text = export_text().replace(",25.00,furniture,", ",19.99,furniture,", 1)

    result = run_import(text, owner)

    assert result.ok
    assert (result.created, result.updated, result.unchanged) == (0, 1, 3)
    chair.refresh_from_db()
    assert chair.price == Decimal("19.99")
    edit = Change.objects.filter(item=chair).first()
    assert edit.action == "edited"
    assert edit.actor == owner
    assert "price" in edit.detail


def test_rows_without_an_id_create_items_and_accept_labels_in_any_case(owner):
    text = (
        "name,price,description,category,condition,status,archived\n"
        "Salad bowl,4.5,Glass.,Kitchen & dining,Like new,,\n"
        "Drill,30,,TOOLS,for_parts,sold,no\n"
        "Puzzle,0,,,,,yes\n"
    )

    result = run_import(text, owner)

    assert result.ok
    assert result.created == 3
    bowl, drill, puzzle = Item.objects.order_by("pk")
    assert (bowl.category, bowl.condition, bowl.price) == ("kitchen", "like_new", Decimal("4.50"))
    assert (drill.category, drill.status) == ("tools", "sold")
    assert (puzzle.category, puzzle.condition, puzzle.archived) == ("other", "good", True)
    assert set(Change.objects.filter(item=drill).values_list("action", flat=True)) == {
        "created", "sold"}


def test_status_and_archived_changes_go_through_the_services(stock, owner):
    chair, kettle = stock["chair"], stock["kettle"]
    text = (
        "id,name,price,status,archived\n"
        f"{chair.pk},Oak chair,25.00,sold,yes\n"
        f"{kettle.pk},Kettle,7.50,available,\n"
    )

    result = run_import(text, owner)

    assert result.ok
    assert result.updated == 2
    chair.refresh_from_db()
    kettle.refresh_from_db()
    assert (chair.status, chair.archived) == ("sold", True)
    assert kettle.status == "available"
    assert list(Change.objects.filter(item=chair).values_list("action", flat=True)[:2]) == [
        "archived", "sold"]


def test_a_booked_item_may_stay_booked_and_a_blank_status_keeps_the_current_one(stock, owner):
    bike, kettle = stock["bike"], stock["kettle"]
    text = (
        "id,name,price,status\n"
        f"{bike.pk},Road bike,80.00,booked\n"
        f"{kettle.pk},Kettle,7.50,\n"
    )

    result = run_import(text, owner)

    assert result.ok
    bike.refresh_from_db()
    kettle.refresh_from_db()
    assert (bike.name, bike.status) == ("Road bike", "booked")
    assert kettle.status == "sold"


def test_a_byte_order_mark_is_accepted(owner):
    data = "\ufeffname,price\nLamp,12.50\n".encode()

    result = import_items(data, actor=owner)

    assert result.ok
    assert Item.objects.get().name == "Lamp"


def test_a_file_object_is_read_like_bytes(owner):
    result = import_items(io.BytesIO(b"name,price\r\nLamp,12.50\r\n"), actor=owner)

    assert result.created == 1


# --- Import: what a bad file does --------------------------------------------------------


def test_a_file_with_bad_rows_writes_nothing_and_names_each_line_and_column(stock, owner):
    text = (
        "name,price,category,status,archived,id\n"   # 1
        "Lamp,-1,,,,\n"                               # 2 negative price
        "Chair,1.234,,,,\n"                           # 3 three decimals
        "Table,10,spaceships,,,\n"                    # 4 unknown category
        " ,10,,,,\n"                                  # 5 blank name
        "Sofa,10,,,,99999\n"                          # 6 unknown id
        "Bike,10,,booked,,\n"                         # 7 booked for a new item
        "Desk,10,,,maybe,\n"                          # 8 bad archived value
        'Rug,"12,50",,,,\n'                           # 9 comma decimals
        "Vase,123456789,,,,\n"                        # 10 nine digits before the point
        "Good row,5,,,,\n"                            # 11 fine, but not written either
    )
    before = snapshot()

    result = run_import(text, owner)

    assert not result.ok
    assert where(result) == [(2, "price"), (3, "price"), (4, "category"), (5, "name"),
                             (6, "id"), (7, "status"), (8, "archived"), (9, "price"),
                             (10, "price")]
    assert "negative" in result.errors[0].message
    assert "99999" in result.errors[4].message
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert snapshot() == before


def test_a_quoted_multi_line_description_shifts_the_line_numbers(owner):
    text = (
        "name,price,description\n"
        'Lamp,cheap,"line one\n'
        "line two\n"
        'line three"\n'
        "Chair,-1,\n"
    )

    result = run_import(text, owner)

    assert where(result) == [(2, "price"), (5, "price")]
    assert Item.objects.count() == 0


def test_an_item_cannot_be_booked_or_made_available_by_csv(stock, owner):
    chair, bike = stock["chair"], stock["bike"]
    text = (
        "id,name,price,status\n"
        f"{chair.pk},Oak chair,25.00,booked\n"
        f"{bike.pk},Bike,80.00,available\n"
        f"{chair.pk},Oak chair,25.00,\n"
    )

    result = run_import(text, owner)

    assert where(result) == [(2, "status"), (3, "status"), (4, "id")]
    assert "hold" in result.errors[1].message
    assert "line 2" in result.errors[2].message


def test_a_row_with_too_many_cells_is_reported(owner):
    result = run_import("name,price\nRug,12,50\n", owner)

    assert result.errors == [RowError(2, "", "This row has 3 cells; the header has 2.")]


def test_a_file_that_is_not_utf8_gets_a_clear_error(owner):
    data = "name,price\nCafé table,10\n".encode("latin-1")

    result = import_items(data, actor=owner)

    assert where(result) == [(2, "")]
    assert "UTF-8" in result.errors[0].message
    assert Item.objects.count() == 0


def test_an_empty_file_gets_a_clear_error(owner):
    result = import_items(b"", actor=owner)

    assert not result.ok
    assert "empty" in result.errors[0].message


def test_a_file_without_a_header_row_names_the_missing_columns(owner):
    result = run_import("Lamp,12.50\nChair,10\n", owner)

    missing = [e for e in result.errors if "required column" in e.message]
    assert [e.column for e in missing] == ["name", "price"]
    assert all(e.line == 1 for e in result.errors)


def test_unknown_columns_are_named(owner):
    result = run_import("name,price,colour,Weight\nLamp,12.50,red,2kg\n", owner)

    assert [e.column for e in result.errors] == ["colour", "weight"]
    assert "colour" in str(result.errors[0])
    assert Item.objects.count() == 0


def test_an_unclosed_quote_is_reported_where_its_record_starts(owner):
    result = run_import('name,price,description\nLamp,5,ok\nChair,5,"never closed\n', owner)

    assert where(result) == [(3, "")]


def test_files_over_the_row_or_size_limit_are_refused(owner, monkeypatch):
    monkeypatch.setattr(csv_io, "MAX_ROWS", 2)
    assert where(run_import("name,price\nA,1\nB,1\nC,1\n", owner)) == [(4, "")]

    monkeypatch.setattr(csv_io, "MAX_BYTES", 10)
    result = run_import("name,price\nA,1\n", owner)
    assert "larger than" in result.errors[0].message
    assert Item.objects.count() == 0


def test_a_failure_while_writing_rolls_back_every_row(stock, owner, monkeypatch):
    def refuse(*, item, actor):
        raise services.ItemUnavailable(f"{item.name} cannot be sold now.")

    monkeypatch.setattr(services, "mark_sold", refuse)
    chair = stock["chair"]
    text = (
        "id,name,price,status\n"
        ",New lamp,5,\n"
        f"{chair.pk},Oak chair,30.00,sold\n"
    )
    before = snapshot()

    result = run_import(text, owner)

    assert result.errors == [RowError(3, "", "Oak chair cannot be sold now. Nothing was saved.")]
    assert snapshot() == before


def test_a_large_import_of_new_items_goes_in_whole_with_a_log_row_each(owner):
    lines = ["name,price,category"] + [f"Chair {n},{n}.50,furniture" for n in range(1, 2501)]
    before = Change.objects.count()

    result = import_items("\n".join(lines).encode(), actor=owner)

    assert result.ok and result.created == 2500
    assert Item.objects.filter(category="furniture").count() == 2500
    assert Item.objects.get(name="Chair 7").price == Decimal("7.50")
    assert Item.objects.filter(search_text__contains="chair 2500").exists()
    created = Change.objects.filter(action="created").count()
    assert Change.objects.count() - before == 2500 == created
    assert set(Change.objects.values_list("actor", flat=True)) == {owner.pk}
