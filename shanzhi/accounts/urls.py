from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("otp/", views.otp_view, name="otp"),
    path("otp/setup/", views.otp_setup_view, name="otp_setup"),
    path("me/", views.me_view, name="me"),
    path("me/password/", views.password_change_view, name="password_change"),
    path("me/tokens/", views.token_create_view, name="token_create"),
    path("me/tokens/<int:pk>/revoke/", views.token_revoke_view, name="token_revoke"),
    path("users/", views.user_list_view, name="user_list"),
    path("users/new/", views.user_create_view, name="user_create"),
    path("users/<int:pk>/", views.user_detail_view, name="user_detail"),
    path("users/<int:pk>/roles/", views.role_grant_view, name="role_grant"),
    path("users/<int:pk>/roles/<int:assignment>/revoke/", views.role_revoke_view, name="role_revoke"),
    path("users/<int:pk>/deactivate/", views.user_deactivate_view, name="user_deactivate"),
    path("users/<int:pk>/password/", views.user_password_view, name="user_password"),
    path("users/<int:pk>/otp-reset/", views.user_otp_reset_view, name="user_otp_reset"),
    path("audit/", views.audit_log_view, name="audit_log"),
]
