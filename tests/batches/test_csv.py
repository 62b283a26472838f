"""CSV parsing and recipient validation: encodings, columns, bad numbers, duplicates, size."""

import io

import pytest
from django.db import connection

from callops.calls import batch_csv
from callops.calls.batch_csv import CsvError, Validator, read_csv, read_pasted


def _table(text: str, encoding="utf-8", **kw):
    return read_csv(io.BytesIO(text.encode(encoding) if isinstance(text, str) else text), **kw)


def _check(table, region="US"):
    v = Validator(region)
    return [v.check(r) for r in table.rows], v


SAMPLE = "name,phone,city\nAda,+14155550123,SF\nBob,(212) 555-0199,NYC\n"


@pytest.mark.parametrize("encoding,prefix", [("utf-8", b""), ("utf-8-sig", b""), ("utf-16", b""),
                                             ("utf-16-le", b""), ("latin-1", b"")])
def test_encodings_are_detected(encoding, prefix):
    text = "name,phone,city\nZoë Müller,+14155550123,Köln\n"
    table = read_csv(io.BytesIO(prefix + text.encode(encoding)))
    rows = list(table.rows)
    assert table.columns == ["name", "phone", "city"]
    assert rows[0].context == {"name": "Zoë Müller", "city": "Köln"}
    assert rows[0].phone == "+14155550123"


def test_latin1_falls_back_when_utf8_breaks_late():
    body = ("phone,note\n" + "+14155550123,ok\n" * 5000 + "+14155550124,caf\xe9\n").encode("latin-1")
    table = read_csv(io.BytesIO(body))
    assert table.encoding == "latin-1"
    assert list(table.rows)[-1].context["note"] == "café"


def test_phone_column_detection_and_mapping():
    table = _table("First Name;Mobile;Plan\nAda;+442079460000;gold\n")
    assert table.phone_column == "Mobile"
    (row,) = list(table.rows)
    assert row.context == {"First Name": "Ada", "Plan": "gold"}
    explicit = _table("a,b\n+14155550123,x\n", phone_column="A")
    assert explicit.phone_column == "a"


@pytest.mark.parametrize("text,message", [
    ("", "empty"), ("   \n\n", "empty"), ("\ufeff", "empty"),
    ("name,city\nAda,SF\n", "no phone column"),
    ("name,name\nAda,Ada\n", "twice"),
])
def test_whole_file_errors(text, message):
    with pytest.raises(CsvError, match=message):
        _table(text, encoding="utf-8")


def test_named_phone_column_must_exist():
    with pytest.raises(CsvError, match="'tel' is not in the file"):
        _table("phone,x\n+14155550123,1\n", phone_column="tel")


def test_bad_numbers_and_duplicates_are_rejected_with_reasons():
    text = ("phone,n\n+14155550123,1\n4155550123,2\n+1 (415) 555-0123,3\n+999123,4\n12,5\n,6\n"
            "hello,7\n+4420794600001234,8\n+442079460000,9\n")
    results, v = _check(_table(text))
    by_row = {r.number: r for r in results}
    assert isinstance(by_row[1], batch_csv.Recipient) and by_row[1].phone == "+14155550123"
    assert "duplicate" in by_row[2].reason and "duplicate" in by_row[3].reason
    for n in (4, 5, 7, 8):
        assert isinstance(by_row[n], batch_csv.Rejection), n
        assert by_row[n].reason
    assert by_row[6].reason == "phone number is missing"
    assert by_row[9].phone == "+442079460000" and by_row[9].tz == "Europe/London"
    assert (v.valid, v.rejected, v.duplicates) == (2, 7, 2)


def test_national_numbers_need_a_default_country():
    results, _ = _check(_table("phone\n(415) 555-0123\n"), region=None)
    assert "default country" in results[0].reason
    results, _ = _check(_table("phone\n020 7946 0000\n"), region="GB")
    assert results[0].phone == "+442079460000"


def test_number_time_zone_is_derived():
    results, _ = _check(_table("phone\n+12125550100\n+13105550100\n+81312345678\n"))
    assert [r.tz for r in results] == ["America/New_York", "America/Los_Angeles", "Asia/Tokyo"]


def test_pasted_list_without_header():
    table = read_pasted("+14155550123\n\n+14155550124\n")
    assert [r.phone for r in table.rows] == ["+14155550123", "+14155550124"]
    table = read_pasted("phone,name\n+14155550123,Ada\n")
    assert list(table.rows)[0].context == {"name": "Ada"}


def test_rejections_csv_escapes_formulas():
    rej = [batch_csv.Rejection(3, "=cmd", "bad", {"phone": "=cmd|' /C calc'!A0", "n": "x"})]
    out = "".join(batch_csv.rejections_csv(rej, ["phone", "n"]))
    assert out.splitlines()[1].startswith("3,bad,'=cmd")


@pytest.mark.slow
@pytest.mark.django_db
def test_100k_row_file_is_stored_through_create_batch(personas, sandbox_agent):
    from callops.calls import batches
    from callops.calls.models import BatchRecipient, BatchRejection

    lines = ["phone,first_name,ref"]
    for i in range(100_000):
        if i % 2000 == 1:
            lines.append(f"+1415{2000000 + i - 1:07d},Dup{i},{i}")  # the row before's number again
        elif i % 2000 == 2:
            lines.append(f"12{i},Bad{i},{i}")  # too short to be a number
        else:
            lines.append(f"+1415{2000000 + i:07d},N{i},{i}")
    body = ("\n".join(lines) + "\n").encode()
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql[:30])
        return execute(sql, params, many, context)

    table = read_csv(io.BytesIO(body))
    with connection.execute_wrapper(count):
        batch = batches.create_batch(org=personas.org, agent=sandbox_agent, settings=batches.clean_settings({}),
                                     rows=table.rows, columns=table.columns, phone_column=table.phone_column,
                                     start=False)
    assert (batch.total_rows, batch.recipient_count, batch.rejected_count, batch.duplicate_count) == (
        100_000, 99_900, 100, 50)
    assert BatchRecipient.objects.filter(batch=batch).count() == 99_900
    assert BatchRejection.objects.filter(batch=batch).count() == 100
    last = BatchRecipient.objects.get(batch=batch, row_number=100_000)
    assert (last.phone, last.context, last.tz) == ("+14152099999", {"first_name": "N99999", "ref": "99999"},
                                                   "America/Los_Angeles")
    dup = BatchRejection.objects.get(batch=batch, row_number=2)
    assert dup.reason.startswith("duplicate of an earlier row") and dup.row["first_name"] == "Dup1"
    # Rows are written in bulk: a few hundred statements for 100,000 rows, not one per row. (How
    # long that takes is bench/batches.py's business, not a test's.)
    assert len(statements) < 300, len(statements)


def test_broken_utf16_is_not_a_crash():
    body = "phone\n+14155550123\n".encode("utf-16-be")[:-1]  # odd length, no BOM
    table = read_csv(io.BytesIO(body))
    assert table.encoding == "utf-16-be"
    results, v = _check(table)
    assert v.valid == 1 and results[0].phone == "+14155550123"  # the broken last byte was the newline
    broken = read_csv(io.BytesIO("phone\n+1415555\udc00".encode("utf-16-le", "surrogatepass")))
    results, v = _check(broken)
    assert v.valid == 0 and results[0].reason
