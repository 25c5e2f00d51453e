import base64

import pytest
from django.core.management import call_command
from django.db import connection

from shanzhi.core.crypto import blind_index
from shanzhi.events.models import Event
from shanzhi.events.services import Intake, event_create
from shanzhi.people.models import Resident

pytestmark = pytest.mark.django_db

OLD = base64.urlsafe_b64encode(b"o" * 32).decode()
NEW = base64.urlsafe_b64encode(b"n" * 32).decode()


def _raw(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_rotation_then_rekey_keeps_values_and_lookups(settings, tree, make_user):
    settings.SHANZHI_PII_KEY = OLD
    worker = make_user("grid_worker", tree.village_a1a1)
    event, _ = event_create(actor=worker, data=Intake(title="t", category="exposed_garbage",
                                                      region_code=tree.village_a1a1, reporter_phone="13812345678"))
    resident = Resident.objects.create(region_code=tree.village_a1a1, name="测试",
                                       id_number="330902199001011233", phone="13900001111",
                                       id_number_bidx=blind_index("id_number", "330902199001011233"),
                                       phone_bidx=blind_index("phone", "13900001111"))
    before = _raw("events_event", "reporter_phone", event.pk)
    settings.SHANZHI_PII_KEY = NEW
    settings.SHANZHI_PII_OLD_KEYS = f"old:{OLD}"
    assert not Resident.objects.filter(phone_bidx=blind_index("phone", "13900001111")).exists()
    call_command("pii", "rekey")
    assert Resident.objects.filter(phone_bidx=blind_index("phone", "13900001111")).exists()
    assert Resident.objects.filter(id_number_bidx=blind_index("id_number", "330902199001011233")).exists()
    after = _raw("events_event", "reporter_phone", event.pk)
    assert after != before and after.split(":")[1] != before.split(":")[1]  # another key id
    settings.SHANZHI_PII_OLD_KEYS = ""  # the old key can go now
    assert Event.objects.get(pk=event.pk).reporter_phone == "13812345678"
    assert Resident.objects.get(pk=resident.pk).id_number == "330902199001011233"
