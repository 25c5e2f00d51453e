from django.urls import URLPattern, URLResolver, path, re_path

from . import views, votes_views

app_name = "portal"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("login/", views.login_phone, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("login/password/", views.login_password, name="login_password"),
    path("logout/", views.logout_view, name="logout"),
    path("rate/<str:token>/", views.rate_token, name="rate_token"),
    path("me/", views.me, name="me"),
    path("me/report/", views.report_new, name="report_new"),
    path("me/reports/", views.my_reports, name="my_reports"),
    path("me/reports/<int:pk>/", views.my_report, name="my_report"),
    path("me/reports/<int:pk>/rate/", views.my_report_rate, name="my_report_rate"),
    path("me/data/", views.my_data, name="my_data"),
    path("me/corrections/", views.my_corrections, name="my_corrections"),
    path("me/corrections/<int:pk>/", views.my_correction, name="my_correction"),
    path("staff/corrections/", views.staff_corrections, name="staff_corrections"),
    path("staff/corrections/<int:pk>/", views.staff_correction, name="staff_correction"),
    path("staff/villages/", views.staff_villages, name="staff_villages"),
    path("staff/villages/<str:code>/", views.staff_village, name="staff_village"),
    path("staff/villages/<str:code>/notices/", views.staff_notice_new, name="staff_notice_new"),
    path("staff/notices/<int:pk>/withdraw/", views.staff_notice_withdraw, name="staff_notice_withdraw"),
    re_path(r"^(?P<code>\d{12})/$", views.village, name="village"),
    re_path(r"^(?P<code>\d{12})/search/$", views.village_search, name="village_search"),
    re_path(r"^(?P<code>\d{12})/notices/(?P<pk>\d+)/$", views.notice, name="notice"),
    path("me/votes/<int:pk>/", votes_views.vote, name="vote"),
    path("me/plans/<int:pk>/", votes_views.plan, name="plan"),
]
