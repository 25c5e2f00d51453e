from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegionsConfig(AppConfig):
    name = "shanzhi.regions"
    label = "regions"
    verbose_name = _("Regions, grids and centres")

    def ready(self) -> None:
        from shanzhi.core import home, menu

        from . import importers, selectors

        del importers  # registers the region and grid importers
        menu.register(menu.Item("regions", _("Regions"), "regions:tree", "regions.view", order=20))
        menu.register(menu.Item("grids", _("Grids"), "regions:grid_list", "regions.view", order=21))
        menu.register(menu.Item("centres", _("Centres"), "regions:centre_list", "regions.view", order=22))
        home.register(home.Card("regions", "regions/home_card.html", "regions.view", order=20,
                                context=selectors.scope_counts))
