"""Authorization-matrix routes of the scenario-pack pages.

Packs are global (their definition is the same everywhere); what is scoped is where they are enabled.  The list and
the pack page show only the activations inside the user's ``alerts.configure`` scope, and enabling or disabling a
pack for a region outside it answers 404 and changes nothing."""

from __future__ import annotations

from django.utils import timezone

from shanzhi.regions.models import Region
from shanzhi.scenarios.models import InstalledPack, PackActivation
from shanzhi.testing.authz import Built, Route

CODE = "authz_pack"


def _pack() -> InstalledPack:
    pack, _created = InstalledPack.objects.get_or_create(code=CODE, defaults={
        "version": 1, "name": "authz", "digest": "x", "source": "authz.yaml", "synced_at": timezone.now(),
        "panel": {"title": "t", "chart": "bar", "metrics": [{"label": "alerts", "alerts": "all"}]}})
    return pack


def _activation(region_code: str) -> Built:
    act = PackActivation.objects.create(pack=_pack(), region_code=region_code, at=timezone.now())
    return Built(kwargs={}, marker=region_code, obj=act)


def _activation_on_page(region_code: str) -> Built:
    built = _activation(region_code)
    return Built(kwargs={"code": CODE}, marker=built.marker, obj=built.obj)


def _no_activation(region_code: str) -> Built:
    _pack()
    return Built(kwargs={"code": CODE}, marker=region_code, obj=Region.objects.get(code=region_code))


ROUTES = [
    Route("scenarios:list", "list", _activation),
    Route("scenarios:detail", "list", _activation_on_page),
    Route("scenarios:enable", "action", _no_activation, method="POST",
          payload=lambda b: {"region_code": b.obj.code},
          changed=lambda b: PackActivation.objects.filter(region_code=b.obj.code).exists()),
    Route("scenarios:disable", "action", _activation_on_page, method="POST",
          payload=lambda b: {"region_code": b.obj.region_code},
          changed=lambda b: not PackActivation.objects.filter(pk=b.obj.pk).exists()),
]
