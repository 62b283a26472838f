"""Reading recipient lists: encodings, the header and phone column, whole-file errors, pasted lists,
and rejected rows written back out safely."""

import io

import pytest

from callops.batches import recipient_lists, recipient_validation
from callops.batches.recipient_lists import CsvError, read_csv, read_pasted

from .conftest import check_rows, csv_table


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
    table = csv_table("First Name;Mobile;Plan\nAda;+442079460000;gold\n")
    assert table.phone_column == "Mobile"
    (row,) = list(table.rows)
    assert row.context == {"First Name": "Ada", "Plan": "gold"}
    explicit = csv_table("a,b\n+14155550123,x\n", phone_column="A")
    assert explicit.phone_column == "a"


@pytest.mark.parametrize("text,message", [
    ("", "empty"), ("   \n\n", "empty"), ("\ufeff", "empty"),
    ("name,city\nAda,SF\n", "no phone column"),
    ("name,name\nAda,Ada\n", "twice"),
])
def test_whole_file_errors(text, message):
    with pytest.raises(CsvError, match=message):
        csv_table(text, encoding="utf-8")


def test_named_phone_column_must_exist():
    with pytest.raises(CsvError, match="'tel' is not in the file"):
        csv_table("phone,x\n+14155550123,1\n", phone_column="tel")


def test_pasted_list_without_header():
    table = read_pasted("+14155550123\n\n+14155550124\n")
    assert [r.phone for r in table.rows] == ["+14155550123", "+14155550124"]
    table = read_pasted("phone,name\n+14155550123,Ada\n")
    assert list(table.rows)[0].context == {"name": "Ada"}


def test_rejections_csv_escapes_formulas():
    rej = [recipient_validation.Rejection(3, "=cmd", "bad", {"phone": "=cmd|' /C calc'!A0", "n": "x"})]
    out = "".join(recipient_lists.rejections_csv(rej, ["phone", "n"]))
    assert out.splitlines()[1].startswith("3,bad,'=cmd")


def test_broken_utf16_is_not_a_crash():
    body = "phone\n+14155550123\n".encode("utf-16-be")[:-1]  # odd length, no BOM
    table = read_csv(io.BytesIO(body))
    assert table.encoding == "utf-16-be"
    results, v = check_rows(table)
    assert v.valid == 1 and results[0].phone == "+14155550123"  # the broken last byte was the newline
    broken = read_csv(io.BytesIO("phone\n+1415555\udc00".encode("utf-16-le", "surrogatepass")))
    results, v = check_rows(broken)
    assert v.valid == 0 and results[0].reason


def test_a_row_with_more_values_than_columns_is_rejected_naming_them():
    table = csv_table("name,phone,appointment\nOlivia,+12025550103,extra,column,here\n"
                      "Bo,+12025550104,Wed,,\n")
    results, v = check_rows(table)
    assert results[0].reason == ("the row has 5 values but the header names 3 columns (extra: “column”, “here”); "
                                 "fix the row's commas or add a column for them")
    assert results[1].phone == "+12025550104" and results[1].context == {"name": "Bo", "appointment": "Wed"}
    assert (v.valid, v.rejected) == (1, 1)


def test_a_binary_file_is_not_read_as_a_header():
    with pytest.raises(CsvError) as exc:
        csv_table(bytes((i * 37 + 1) % 256 for i in range(4000)))
    assert str(exc.value) == ("this file is not a CSV (it holds binary data, like a spreadsheet or an image): save "
                              "the list as CSV, comma-separated values, and upload that")
    assert exc.value.columns is None
