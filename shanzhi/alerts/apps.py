import datetime as dt

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "shanzhi.alerts"
    label = "alerts"
    verbose_name = _("Early warning")

    def ready(self) -> None:
        from shanzhi.core import menu

        menu.register(menu.Item("alerts", _("Alert wall"), "alerts:wall", "alerts.view", order=50))

        from shanzhi.core import periodic

        def alerts_tick(now: dt.datetime) -> None:
            from .tasks import tick

            tick(now)

        # grouping/notification, event-count rules, weather and escalation of unacknowledged alerts
        periodic.register("alerts.tick", alerts_tick, every=5)
