import datetime as dt

from django.apps import AppConfig
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "shanzhi.events"
    label = "events"
    verbose_name = _("Event coordination")

    def ready(self) -> None:
        from shanzhi.core import home, menu

        from . import views

        menu.register(menu.Item("events", _("Events"), "events:queue", "events.view", order=30))
        menu.register(menu.Item("events_report", _("Report an event"), "events:report", "events.report", order=31))
        menu.register(menu.Item("events_stats", _("Event statistics"), "events:stats", "events.stats", order=32))
        menu.register(menu.Item("events_notifications", _("Notifications"), "events:notifications", None,
                                order=33))
        menu.register(menu.Item("events_settings", _("Event settings"), "events:categories", "events.configure",
                                order=90))
        menu.register(menu.Item("mediation", _("Dispute screening"), "events:mediation:campaign_list",
                                "events.dispatch", order=35))
        home.register(home.Card("events", "events/home_card.html", "events.view", order=30,
                                context=views.home_card))

        from shanzhi.core import periodic

        def mediation_remind(now: dt.datetime) -> None:
            from .mediation_services import remind_overdue

            remind_overdue(today=timezone.localtime(now).date())

        # warn the grids that have not answered a past-due screening campaign (idempotent per grid and day)
        periodic.register("events.mediation_remind", mediation_remind, every=3600)
