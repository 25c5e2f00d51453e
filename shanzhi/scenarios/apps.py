from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScenariosConfig(AppConfig):
    name = "shanzhi.scenarios"
    label = "scenarios"
    verbose_name = _("Scenario packs")

    def ready(self) -> None:
        # no database here: the packs are validated by a system check, and alerts become events after a feed
        from shanzhi.alerts import engine
        from shanzhi.core import menu

        from . import checks, services

        checks.register()
        menu.register(menu.Item("scenarios", _("Scenario packs"), "scenarios:list", "alerts.configure", order=55))
        if services.after_feed not in engine.AFTER_FEED:
            engine.AFTER_FEED.append(services.after_feed)

        from shanzhi.core import periodic

        # alerts stored by the periodic alert rules (event counts, weather) become events too
        periodic.register("scenarios.convert", lambda now: services.convert_pending(now), every=30)
