"""Checking recipients: bad numbers and duplicates with reasons, national numbers and a default
country, the time zone derived from the number."""

from callops.batches import recipient_validation

from .conftest import check_rows, csv_table


def test_bad_numbers_and_duplicates_are_rejected_with_reasons():
    text = ("phone,n\n+14155550123,1\n4155550123,2\n+1 (415) 555-0123,3\n+999123,4\n12,5\n,6\n"
            "hello,7\n+4420794600001234,8\n+442079460000,9\n")
    results, v = check_rows(csv_table(text))
    by_row = {r.number: r for r in results}
    assert isinstance(by_row[1], recipient_validation.Recipient) and by_row[1].phone == "+14155550123"
    assert "duplicate" in by_row[2].reason and "duplicate" in by_row[3].reason
    for n in (4, 5, 7, 8):
        assert isinstance(by_row[n], recipient_validation.Rejection), n
        assert by_row[n].reason
    assert by_row[6].reason == "phone number is missing"
    assert by_row[9].phone == "+442079460000" and by_row[9].tz == "Europe/London"
    assert (v.valid, v.rejected, v.duplicates) == (2, 7, 2)


def test_national_numbers_need_a_default_country():
    results, _ = check_rows(csv_table("phone\n(415) 555-0123\n"), region=None)
    assert "default country" in results[0].reason
    results, _ = check_rows(csv_table("phone\n020 7946 0000\n"), region="GB")
    assert results[0].phone == "+442079460000"


def test_number_time_zone_is_derived():
    results, _ = check_rows(csv_table("phone\n+12125550100\n+13105550100\n+81312345678\n"))
    assert [r.tz for r in results] == ["America/New_York", "America/Los_Angeles", "Asia/Tokyo"]
