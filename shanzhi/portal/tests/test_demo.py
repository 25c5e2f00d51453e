from __future__ import annotations

import random
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shanzhi.core.demo import DemoContext
from shanzhi.people.tests.helpers import make_resident
from shanzhi.portal import demo
from shanzhi.portal.models import CorrectionRequest, GridContact, Notice, PortalAccount
from shanzhi.portal.sms import LocMemSender
from shanzhi.regions.models import Region
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db


def test_demo_hook_links_residents_who_can_then_log_in(tree: factories.Tree) -> None:
    codes = [tree.village_a1a1, tree.village_a1a2]
    for i, code in enumerate(codes):
        make_resident(code, phone=f"1370000000{i}")
        make_resident(code, phone="13799999999")  # shared by two: never chosen
    ctx = DemoContext(size="small", rng=random.Random(1), now=timezone.now(),
                      villages=list(Region.objects.filter(code__in=codes).order_by("code")))
    demo.build(ctx)
    assert PortalAccount.objects.count() == 2
    assert Notice.objects.filter(region_code=tree.village_a1a1).count() == len(demo.NOTICES)
    assert GridContact.objects.filter(region_code=tree.village_a1a1).exists()
    assert CorrectionRequest.objects.count() == 1
    phone = ctx.logins[0][0]
    assert phone == "13700000000" and "/portal/login/" in ctx.logins[0][2]
    client = Client()
    client.post(reverse("portal:login"), {"phone": phone})
    found = re.search(r"\d{6}", LocMemSender.outbox[-1][1])
    assert found
    assert client.post(reverse("portal:login_code"), {"code": found.group(0)}).status_code == 302
    assert client.get(reverse("portal:my_data")).status_code == 200
