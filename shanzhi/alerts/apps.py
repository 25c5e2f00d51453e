from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "shanzhi.alerts"
    label = "alerts"
    verbose_name = _("Early warning")

    def ready(self) -> None:
        from shanzhi.core import menu

        menu.register(menu.Item("alerts", _("Alert wall"), "alerts:wall", "alerts.view", order=50))
