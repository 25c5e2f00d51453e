from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "affairs"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.decision_list, name="decision_list"),
    path("decisions/new/", views.decision_create, name="decision_create"),
    path("decisions/<int:decision_id>/", views.decision_detail, name="decision_detail"),
    path("decisions/<int:decision_id>/step/", views.decision_step, name="decision_step"),
    path("decisions/<int:decision_id>/attach/", views.decision_attach, name="decision_attach"),
    path("meetings/", views.meeting_list, name="meeting_list"),
    path("meetings/new/", views.meeting_create, name="meeting_create"),
    path("meetings/<int:meeting_id>/", views.meeting_detail, name="meeting_detail"),
    path("meetings/<int:meeting_id>/act/", views.meeting_action, name="meeting_action"),
    path("disclosures/", views.disclosure_calendar, name="disclosure_calendar"),
    path("disclosures/new/", views.disclosure_publish, name="disclosure_publish"),
    path("disclosures/<int:disclosure_id>/", views.disclosure_detail, name="disclosure_detail"),
    path("disclosures/<int:disclosure_id>/revise/", views.disclosure_revise, name="disclosure_revise"),
    path("ledger/", views.ledger, name="ledger"),
    path("ledger/new/", views.ledger_add, name="ledger_add"),
    path("ledger/import/", views.ledger_import, name="ledger_import"),
    path("ledger/<int:entry_id>/sign/", views.ledger_sign, name="ledger_sign"),
    path("statements/new/", views.statement_publish, name="statement_publish"),
    path("statements/<int:statement_id>/", views.statement_detail, name="statement_detail"),
    path("powers/", views.power_list, name="power_list"),
    path("powers/act/", views.power_action, name="power_action"),
    path("members/", views.members, name="members"),
    path("members/act/", views.members_action, name="members_action"),
    path("statistics/", views.stats, name="stats"),
    path("statistics/export.xlsx", views.stats_export, name="stats_export"),
    # public pages: no login, published content only
    path("public/<str:code>/", views.public_index, name="public_index"),
    path("public/<str:code>/decisions/", views.public_decisions, name="public_decisions"),
    path("public/<str:code>/decisions/<int:decision_id>/", views.public_decision, name="public_decision"),
    path("public/<str:code>/meetings/", views.public_meetings, name="public_meetings"),
    path("public/<str:code>/disclosures/", views.public_disclosures, name="public_disclosures"),
    path("public/<str:code>/finance/", views.public_statements, name="public_statements"),
    path("public/<str:code>/finance/<int:statement_id>/", views.public_statement, name="public_statement"),
    path("public/<str:code>/powers/", views.public_powers, name="public_powers"),
    path("verify/", views.verify, name="public_verify"),
    path("verify/<str:code>/", views.verify, name="public_verify_code"),
]
