from django.apps import AppConfig
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
        home.register(home.Card("events", "events/home_card.html", "events.view", order=30,
                                context=views.home_card))
