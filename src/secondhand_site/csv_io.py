"""CSV export and import of items, for the owner's item table.

An import is checked whole before anything is written: every bad cell is reported
with its line and column, and only a clean file is applied, in one transaction,
through the services, so each change writes its change-log row like any other edit.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.db import models, transaction

from secondhand_site import services
from secondhand_site.models import Category, Condition, Item, Status, User

logger = logging.getLogger(__name__)

COLUMNS = ["id", "name", "description", "price", "category", "condition", "status",
           "archived", "created_at", "updated_at"]
REQUIRED_COLUMNS = ("name", "price")
IGNORED_COLUMNS = ("created_at", "updated_at")

MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024
MAX_NAME = 120
MAX_DESCRIPTION = 5000

# A spreadsheet runs a cell that starts with one of these as a formula. The apostrophe
# is escaped too, so that an import can strip exactly the one the export added.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPED_STARTS = (*FORMULA_TRIGGERS, "'")

PRICE_PATTERN = re.compile(r"\d{1,8}(?:\.\d{1,2})?")
TRUE_WORDS = ("yes", "true", "1")
FALSE_WORDS = ("no", "false", "0")


@dataclass(frozen=True)
class RowError:
    """One problem in an import. Line 1 is the header; line 0 means the whole file."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"Line {self.line}" if self.line else "File"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message}"


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- Export ----------------------------------------------------------------------------


class Echo:
    """A file-like object whose write() hands the line back, for streaming."""

    def write(self, value: str) -> str:
        return value


def escape_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula."""
    return f"'{value}" if value.startswith(ESCAPED_STARTS) else value


def _export_row(values: tuple[Any, ...]) -> list[str]:
    cells = dict(zip(COLUMNS, values, strict=True))
    cells["archived"] = "yes" if cells["archived"] else "no"
    cells["created_at"] = cells["created_at"].isoformat()
    cells["updated_at"] = cells["updated_at"].isoformat()
    # The price is a number, never a formula: it stays as it is.
    return [f"{value:.2f}" if column == "price" else escape_cell(str(value))
            for column, value in cells.items()]


def iter_export_rows(queryset: models.QuerySet[Item]) -> Iterator[str]:
    """Yield the CSV line by line (header first), for a StreamingHttpResponse."""
    writer = csv.writer(Echo())
    yield writer.writerow(COLUMNS)
    rows = queryset.order_by("pk").values_list(*COLUMNS).iterator(chunk_size=2000)
    for values in rows:
        yield writer.writerow(_export_row(values))


def export_items(queryset: models.QuerySet[Item], out: IO[str]) -> None:
    """Write every item of `queryset`, ordered by id, as CSV to a text stream."""
    for line in iter_export_rows(queryset):
        out.write(line)


# --- Import: reading the file ----------------------------------------------------------


class _Invalid(Exception):
    """A cell's value is refused; str() is the message."""


@dataclass
class _Row:
    """One checked data row: what it asks for, before it meets the database."""

    line: int
    item_id: int | None
    fields: dict[str, Any]  # only the editable columns present in the file
    status: str | None  # None: keep (or available, for a new item)
    archived: bool | None  # None: keep (or not archived, for a new item)


class _FileError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.error = RowError(line, "", message)


def _read_text(source: bytes | str | IO[bytes] | IO[str]) -> str:
    data = source.read(MAX_BYTES + 1) if hasattr(source, "read") else source
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise _FileError(0, f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _FileError(line, "The file is not UTF-8 text. Save it as “CSV UTF-8” "
                               "and try again.") from None
    if "\x00" in text:
        raise _FileError(0, "The file is not a text CSV file. Save it as “CSV UTF-8” "
                            "and try again.")
    return text


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line where the record starts, cells) for every non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _FileError(start, f"The CSV is malformed in the record starting here: {exc}."
                             ) from None
        if any(cell.strip() for cell in cells):
            yield start, cells
        start = reader.line_num + 1


def _check_header(cells: list[str]) -> tuple[list[str], list[RowError]]:
    header = [cell.strip().lower() for cell in cells]
    errors = [RowError(1, "", f"Column {n} has no name in the header row.")
              for n, name in enumerate(header, start=1) if not name]
    known = set(COLUMNS)
    errors += [RowError(1, name, f"Unknown column “{name}”. Known columns: {', '.join(COLUMNS)}.")
               for name in header if name and name not in known]
    errors += [RowError(1, name, f"The column “{name}” appears more than once.")
               for name in sorted({n for n in header if n and header.count(n) > 1})]
    errors += [RowError(1, name, f"The required column “{name}” is missing; "
                                "the first row must name the columns.")
               for name in REQUIRED_COLUMNS if name not in header]
    return header, errors


# --- Import: checking one cell ---------------------------------------------------------


def unescape_cell(value: str) -> str:
    """Undo escape_cell: drop an apostrophe that guards a formula start."""
    return value[1:] if value.startswith("'") and value[1:].startswith(ESCAPED_STARTS) else value


def _parse_id(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    digits = value.lstrip("0")
    # isascii: str.isdigit() also takes digits int() refuses, such as "²".
    if not (value.isascii() and value.isdigit()) or not digits:
        raise _Invalid(f"“{value[:40]}” is not an item id; leave it blank to add a new item.")
    if len(digits) > 18:  # past any id the database hands out (and SQLite can compare)
        raise _Invalid(f"There is no item with id {value[:40]}.")
    return int(digits)


def _parse_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise _Invalid("A name is required.")
    if len(value) > MAX_NAME:
        raise _Invalid(f"The name is {len(value)} characters long; at most {MAX_NAME}.")
    return value


def _parse_description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise _Invalid(f"The description is {len(value)} characters long; "
                       f"at most {MAX_DESCRIPTION}.")
    return value


def _parse_price(value: str) -> Decimal:
    value = value.strip()
    if not value:
        raise _Invalid("A price is required.")
    if value.startswith("-"):
        raise _Invalid(f"“{value}”: a price cannot be negative.")
    if not PRICE_PATTERN.fullmatch(value):
        raise _Invalid(f"“{value}” is not a price. Write it like 12.50: digits, a point, "
                       "at most 2 decimals and 8 digits before the point.")
    return Decimal(value)


def _choice_parser(choices: type[models.TextChoices], default: str, noun: str
                   ) -> Callable[[str], str]:
    lookup = {key.casefold(): code
              for code, label in choices.choices for key in (code, str(label))}

    def parse(value: str) -> str:
        value = value.strip()
        if not value:
            return default
        try:
            return lookup[value.casefold()]
        except KeyError:
            raise _Invalid(f"Unknown {noun} “{value}”. Use one of: "
                           f"{', '.join(choices.values)}.") from None

    return parse


def _parse_status(value: str) -> str | None:
    value = value.strip().casefold()
    if not value:
        return None
    if value not in Status.values:
        raise _Invalid(f"Unknown status “{value}”. Use available or sold, or leave it blank.")
    return value


def _parse_archived(value: str) -> bool | None:
    value = value.strip().casefold()
    if not value:
        return None
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise _Invalid(f"“{value}” is not yes or no.")


PARSERS: dict[str, Callable[[str], Any]] = {
    "id": _parse_id,
    "name": _parse_name,
    "description": _parse_description,
    "price": _parse_price,
    "category": _choice_parser(Category, Category.OTHER, "category"),
    "condition": _choice_parser(Condition, Condition.GOOD, "condition"),
    "status": _parse_status,
    "archived": _parse_archived,
}


def _check_row(line: int, header: list[str], cells: list[str]
               ) -> tuple[_Row | None, list[RowError]]:
    """Parse one record. The row comes back even with errors, so the id is checked too."""
    if len(cells) != len(header):
        return None, [RowError(line, "", f"This row has {len(cells)} cells; "
                                         f"the header has {len(header)}.")]
    values, errors = {}, []
    for column, cell in zip(header, cells, strict=True):
        if column in IGNORED_COLUMNS:
            continue
        try:
            values[column] = PARSERS[column](unescape_cell(cell))
        except _Invalid as exc:
            errors.append(RowError(line, column, str(exc)))
    editable = {f: values[f] for f in services.EDITABLE_FIELDS if f in values}
    return _Row(line, values.get("id"), editable, values.get("status"),
                values.get("archived")), errors


# --- Import: checking rows against the database ----------------------------------------


def _check_status(row: _Row, item: Item | None) -> str | None:
    current = item.status if item else None
    if row.status == Status.BOOKED and current != Status.BOOKED:
        return "Only members book items; use available or sold."
    if row.status == Status.AVAILABLE and current == Status.BOOKED:
        return "This item is booked; release the hold instead of making it available here."
    return None


def _check_against_items(rows: list[_Row], items: dict[int, Item]) -> list[RowError]:
    errors, first_line = [], {}
    for row in rows:
        if row.item_id is not None:
            if row.item_id in first_line:
                errors.append(RowError(row.line, "id", f"Item {row.item_id} is also on line "
                                                       f"{first_line[row.item_id]}."))
                continue
            first_line[row.item_id] = row.line
            if row.item_id not in items:
                errors.append(RowError(row.line, "id", f"There is no item with id {row.item_id}."))
                continue
        problem = _check_status(row, items.get(row.item_id))
        if problem:
            errors.append(RowError(row.line, "status", problem))
    return errors


def _is_unchanged(row: _Row, item: Item) -> bool:
    return (all(getattr(item, f) == v for f, v in row.fields.items())
            and row.status in (None, item.status)
            and row.archived in (None, item.archived))


# --- Import: writing -------------------------------------------------------------------


def _apply_state(item: Item, row: _Row, actor: User | None) -> None:
    if row.status is not None and row.status != item.status:
        change = services.mark_sold if row.status == Status.SOLD else services.mark_available
        item = change(item=item, actor=actor)
    if row.archived is not None and row.archived != item.archived:
        change = services.archive_item if row.archived else services.unarchive_item
        change(item=item, actor=actor)


def _create(row: _Row, actor: User | None) -> None:
    item = services.create_item(actor=actor, **row.fields)
    _apply_state(item, row, actor)


def _update(row: _Row, item: Item, actor: User | None) -> None:
    # `item` was read by the check, before this transaction: a change made since then
    # must not be overwritten. update_item checks the version itself; a row that only
    # changes status or archived is checked here.
    changed = {f: v for f, v in row.fields.items() if getattr(item, f) != v}
    if changed:
        item = services.update_item(item_id=item.pk, actor=actor,
                                    expected_version=item.version, **changed)
    elif not Item.objects.filter(pk=item.pk, version=item.version).exists():
        raise services.EditConflict(item)
    _apply_state(item, row, actor)


def _failure_message(exc: Exception, item_id: int | None) -> str:
    if isinstance(exc, services.EditConflict):
        return (f"Item {item_id} was changed by someone else during the import. "
                "Nothing was saved; export again and redo your changes.")
    if isinstance(exc, services.DomainError):
        return f"{exc} Nothing was saved."
    return "This row could not be saved, so nothing was saved. Please try again."


def _write_row(row: _Row, items: dict[int, Item], actor: User | None) -> str:
    """Apply one checked row; say whether it was created, updated or unchanged."""
    if row.item_id is None:
        _create(row, actor)
        return "created"
    item = items[row.item_id]
    if _is_unchanged(row, item):
        return "unchanged"
    _update(row, item, actor)
    return "updated"


def _is_plain_new(row: _Row) -> bool:
    """A new item that is simply available: these go in together, in bulk."""
    return (row.item_id is None and row.status in (None, Status.AVAILABLE)
            and not row.archived)


def _write(rows: list[_Row], items: dict[int, Item], actor: User | None) -> ImportResult:
    counts: Counter[str] = Counter()
    row: _Row | None = None
    plain = [r for r in rows if _is_plain_new(r)]
    try:
        with transaction.atomic():
            if plain:
                counts["created"] += services.create_items(
                    actor=actor, rows=[r.fields for r in plain], detail="CSV import")
            for row in rows:
                if not _is_plain_new(row):
                    counts[_write_row(row, items, actor)] += 1
    except Exception as exc:  # whatever it was, the transaction rolled back: say so
        line, item_id = (row.line, row.item_id) if row else (0, None)
        if not isinstance(exc, services.DomainError):
            logger.exception("CSV import failed while writing line %s", line)
        return ImportResult(errors=[RowError(line, "", _failure_message(exc, item_id))])
    return ImportResult(**counts)


# --- Import: the whole --------------------------------------------------------------------


def _check_file(text: str) -> tuple[list[_Row], list[RowError]]:
    records = _records(text)
    first = next(records, None)
    if first is None:
        return [], [RowError(1, "", "The file is empty; it needs a header row and items.")]
    header, errors = _check_header(first[1])
    if errors:
        return [], errors
    rows: list[_Row] = []
    for count, (line, cells) in enumerate(records, start=1):
        if count > MAX_ROWS:
            return [], [RowError(line, "", f"The file has more than {MAX_ROWS:,} rows; "
                                           "split it into smaller files.")]
        row, row_errors = _check_row(line, header, cells)
        errors += row_errors
        if row:
            rows.append(row)
    return rows, errors


def import_items(source: bytes | str | IO[bytes] | IO[str], *, actor: User | None
                 ) -> ImportResult:
    """Check a CSV of items whole, then apply it in one transaction, or report why not.

    A row with an id updates that item, a row without one adds an item. A blank status
    or archived cell keeps the item's current value. Errors carry the line on which the
    row starts (the header is line 1), so multi-line cells do not shift them.
    """
    try:
        rows, errors = _check_file(_read_text(source))
    except _FileError as exc:
        return ImportResult(errors=[exc.error])
    ids = [row.item_id for row in rows if row.item_id is not None]
    items = Item.objects.in_bulk(ids)
    errors += _check_against_items(rows, items)
    if errors:
        return ImportResult(errors=sorted(errors, key=lambda e: e.line))
    return _write(rows, items, actor)

