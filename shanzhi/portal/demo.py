"""Demo hook: portal settings, grid duty phones and notices for a few villages, and resident logins.

A few demo residents get a linked portal account (as on their first phone login).  They log in on
/portal/login/ with their phone number; the demo's SMS sender (``ConsoleSender``) prints the code on the
console of ``shanzhi demo`` / ``shanzhi serve``.  Their accounts also take the demo password (username
``resident-<village code>``) on /portal/login/password/.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db import transaction

from shanzhi.accounts.demo_users import DEMO_PASSWORD
from shanzhi.accounts.roles import ROLE_LABELS, Role
from shanzhi.core.demo import DemoContext
from shanzhi.people.models import Resident
from shanzhi.regions.models import Grid

from .models import GridContact, Notice, PortalSettings
from .services import account_for, correction_request

DEMO_VILLAGES = 3
NOTICES = (
    ("本周三上午停水通知", "因自来水管道检修,本周三 8:00-12:00 停水,请提前储水。(演示数据)"),
    ("秋季征兵报名开始", "适龄青年请到村社微脑报名。(演示数据)"),
    ("垃圾分类宣传活动", "周六上午在村文化礼堂开展垃圾分类宣传。(演示数据)"),
)


def build(ctx: DemoContext) -> None:
    villages = ctx.villages[:DEMO_VILLAGES]
    if not villages:
        return
    codes = [v.code for v in villages]
    residents = list(Resident.objects.filter(region_code__in=codes, active=True).exclude(phone_bidx="")
                     .order_by("region_code", "id"))
    shared = Counter(r.phone_bidx for r in residents)
    with transaction.atomic():
        for n, village in enumerate(villages, start=1):
            PortalSettings.objects.create(
                region=village, region_code=village.code, duty_phone=f"0580-80{n:05d}",
                welcome=f"欢迎访问{village.name}村(居)民门户。有事请找网格员,或在线反映。(演示数据)")
            for i, grid in enumerate(Grid.objects.filter(region=village).order_by("number"), start=1):
                GridContact.objects.create(grid=grid, region_code=village.code, duty_phone=f"0580-81{n:02d}{i:03d}")
            for days, (title, body) in enumerate(NOTICES):
                Notice.objects.create(region_code=village.code, title=title, body=body,
                                      published_at=ctx.now - dt.timedelta(days=days * 3))
        for village in villages:
            resident = next((r for r in residents if r.region_code == village.code and shared[r.phone_bidx] == 1),
                            None)
            if resident is None:
                continue
            user = account_for(resident=resident, username=f"resident-{village.code}")
            user.set_password(DEMO_PASSWORD)  # also usable on /portal/login/password/ like every demo user
            user.save(update_fields=["password"])
            ctx.users[user.username] = user
            ctx.logins.append((resident.phone, "短信验证码 SMS code",
                               f"{ROLE_LABELS[Role.RESIDENT]} · 手机号登录 /portal/login/,演示验证码打印在控制台"
                               f"(the demo SMS code is printed on the console) · {village.name}"))
            if village is villages[0]:
                correction_request(actor=user, field="address", requested=f"{village.name}演示路1号",
                                   reason="门牌号已变更(演示数据)")
