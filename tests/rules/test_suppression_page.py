"""Settings → Suppression list: add, remove, two-step import and the opt-out setting, role-checked."""

from django.urls import reverse

from callops.accounts.models import AuditEntry
from callops.rules import suppressions
from callops.rules.models import CallingPolicy, Suppression

URL = reverse("dashboard:suppressions")
IMPORT = reverse("dashboard:suppression_import")


def test_a_member_adds_a_number_in_any_spelling(personas):
    client = personas.member.client()
    response = client.post(URL, {"number": "+1 (415) 555-0123", "reason": "asked by phone"})
    assert response.status_code == 302 and response["Location"] == URL
    row = Suppression.objects.get(organization=personas.org)
    assert (row.number, row.reason, row.source, row.added_by) == ("+14155550123", "asked by phone", "manual",
                                                                   personas.member.user)
    page = client.get(URL).content.decode()
    assert "+14155550123 added to the suppression list." in page and "asked by phone" in page


def test_a_bad_number_is_shown_on_the_form(personas):
    response = personas.member.client().post(URL, {"number": "nope"})
    assert response.status_code == 400
    assert response.context["add_error"] == "'nope' is not a phone number; write it with + and the country code"
    assert not Suppression.objects.exists()


def test_viewers_cannot_add_and_members_cannot_remove(personas):
    assert personas.viewer.client().post(URL, {"number": "+14155550123"}).status_code == 403
    row, _ = suppressions.add(personas.org, "+14155550123")
    remove = reverse("dashboard:suppression_remove", kwargs={"suppression_id": row.public_id})
    assert personas.member.client().post(remove).status_code == 403
    response = personas.admin.client().post(remove)
    assert response.status_code == 302 and not Suppression.objects.exists()
    assert AuditEntry.objects.filter(action="suppression.removed", actor=personas.admin.user).exists()


def test_outsiders_get_404_on_remove(personas):
    row, _ = suppressions.add(personas.org, "+14155550123")
    remove = reverse("dashboard:suppression_remove", kwargs={"suppression_id": row.public_id})
    assert personas.outsider.client().post(remove).status_code == 404
    assert Suppression.objects.filter(pk=row.pk).exists()


def test_import_previews_then_adds_exactly_the_accepted_rows(personas):
    suppressions.add(personas.org, "+14155550100")
    client = personas.member.client()
    text = "number,reason\n+1 415 555 0101,letter\nnot a number,x\n+14155550100,dup\n+1-415-555-0101,again\n"
    preview = client.post(IMPORT, {"action": "preview", "text": text})
    assert preview.status_code == 200
    verdicts = [(r.line, r.number, r.error) for r in preview.context["preview"].rows]
    assert verdicts == [
        (2, "+14155550101", ""),
        (3, "", "'not a number' is not a phone number; write it with + and the country code"),
        (4, "+14155550100", "+14155550100 is already on the suppression list"),
        (5, "+14155550101", "+14155550101 appears earlier in the file"),
    ]
    assert Suppression.objects.count() == 1  # the preview writes nothing
    done = client.post(IMPORT, {"action": "import", "text": text})
    assert done.status_code == 302
    row = Suppression.objects.get(number="+14155550101")
    assert (row.source, row.reason) == ("import", "letter")
    assert AuditEntry.objects.get(action="suppression.imported").detail == {"added": 1, "rejected": 3}


def test_admins_turn_opt_out_detection_off_and_on(personas):
    setting = reverse("dashboard:suppression_opt_out")
    assert personas.member.client().post(setting, {}).status_code == 403
    admin = personas.admin.client()
    assert admin.post(setting, {}).status_code == 302
    assert CallingPolicy.objects.get(organization=personas.org).opt_out_detection is False
    admin.post(setting, {"opt_out_detection": "on"})
    assert CallingPolicy.objects.get(organization=personas.org).opt_out_detection is True


def test_the_page_is_scoped_to_the_organization(personas):
    suppressions.add(personas.other_org, "+14155550177")
    page = personas.viewer.client().get(URL).content.decode()
    assert "+14155550177" not in page
