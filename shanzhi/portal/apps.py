from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "shanzhi.portal"
    label = "portal"
    verbose_name = _("Residents' portal")

    def ready(self) -> None:
        from shanzhi.core import menu

        menu.register(menu.Item("portal-me", _("My page"), "portal:me", "portal.self", order=5))
        menu.register(menu.Item("portal-corrections", _("Correction requests"), "portal:staff_corrections",
                                "people.change", order=45))
