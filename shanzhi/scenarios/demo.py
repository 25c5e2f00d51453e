"""Demo hook: install every built-in scenario pack and enable it for the demo city (by its city administrator, who
then answers for the events the packs' rules create)."""

from __future__ import annotations

from shanzhi.accounts.models import RoleAssignment
from shanzhi.core.codes import CODE_LENGTH
from shanzhi.core.demo import DemoContext

from . import loader, services

DEMO_CITY_PREFIX = "3309"


def build(ctx: DemoContext) -> None:
    result = services.sync_all(actor="demo")
    if result.refused:
        raise RuntimeError(f"scenario packs refused: {result.refused}")
    cities = sorted({v.code[:4] for v in ctx.villages})
    prefix = DEMO_CITY_PREFIX if DEMO_CITY_PREFIX in cities else (cities[0] if cities else "")
    if not prefix:
        return
    city = prefix.ljust(CODE_LENGTH, "0")
    admin = next((a.user for a in RoleAssignment.objects.filter(role="city_admin", region_code=city)
                  .select_related("user").order_by("user__username")), None)
    if admin is None:
        ctx.log("  scenario packs installed; no city administrator to enable them")
        return
    for code in sorted(loader.packs()):
        services.pack_enable(actor=admin, pack_code=code, region_code=city)
    ctx.log(f"  {len(loader.packs())} scenario packs installed and enabled for {city}")
