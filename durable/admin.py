from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Operators read what ran, what runs and what failed; the runner alone changes jobs."""

    list_display = ["key", "status", "attempts", "failures", "holder", "lease_until",
                    "finished_at", "duration_s"]
    list_filter = ["status", "func"]
    search_fields = ["key", "error"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
