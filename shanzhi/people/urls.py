from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "people"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.resident_list, name="resident_list"),
    path("residents/<int:pk>/", views.resident_detail, name="resident_detail"),
    path("residents/<int:pk>/unmask/", views.resident_unmask, name="resident_unmask"),
    path("households/", views.household_list, name="household_list"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("houses/", views.house_list, name="house_list"),
    path("houses/<int:pk>/", views.house_detail, name="house_detail"),
    path("organisations/", views.organisation_list, name="organisation_list"),
    path("vessels/", views.vessel_list, name="vessel_list"),
    path("vessels/<int:pk>/", views.vessel_detail, name="vessel_detail"),
]
urlpatterns += [
    path("import/", views.import_view, name="import"),
    path("export/", views.export_view, name="export"),
]
