from django.db import migrations

DEFAULT_TYPES = [
    ("police", "公安", "Public security (police)"),
    ("justice", "司法", "Justice"),
    ("civil_affairs", "民政", "Civil affairs"),
    ("natural_resources", "自然资源和规划", "Natural resources and planning"),
    ("housing", "住房和城乡建设", "Housing and urban-rural development"),
    ("law_enforcement", "综合行政执法", "Comprehensive administrative law enforcement"),
    ("emergency", "应急管理", "Emergency management"),
    ("ecology", "生态环境", "Ecology and environment"),
    ("health", "卫生健康", "Health"),
    ("labour_arbitration", "人力资源和社会保障（劳动仲裁）", "Human resources and social security (labour arbitration)"),
    ("agriculture", "农业农村", "Agriculture and rural affairs"),
    ("ocean_fisheries", "海洋与渔业", "Ocean and fisheries"),
    ("petitions", "信访", "Letters and visits (petitions)"),
    ("market_regulation", "市场监督管理", "Market regulation"),
    ("transport", "交通运输", "Transport"),
]


def seed(apps, schema_editor):
    DepartmentType = apps.get_model("regions", "DepartmentType")
    for code, name, name_en in DEFAULT_TYPES:
        DepartmentType.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})


def unseed(apps, schema_editor):
    DepartmentType = apps.get_model("regions", "DepartmentType")
    DepartmentType.objects.filter(code__in=[c for c, _n, _e in DEFAULT_TYPES], centre__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("regions", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
