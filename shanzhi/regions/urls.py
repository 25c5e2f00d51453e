from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "regions"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.tree, name="tree"),
    path("import/", views.import_upload, name="import"),
    path("export.xlsx", views.export, name="export"),
    path("grids/", views.grid_list, name="grid_list"),
    path("grids/<int:pk>/", views.grid_detail, name="grid_detail"),
    path("centres/", views.centre_list, name="centre_list"),
    path("<str:code>/", views.detail, name="detail"),
]
