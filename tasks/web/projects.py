"""The customer's projects: progress, creation from a preset, batch uploads, webhooks, exports.

Projects and everything under them are looked up among ``Project.objects.visible_to(user)``,
so another organization's answer 404. Members define projects, upload and start or pause
them; owners and admins also manage webhooks; QA leads read. The services check the roles
again, so a page never lets through what the API would refuse.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from accounts import access
from accounts.access import Action
from accounts.models import Organization
from config.ids import parse_id
from config.workspace import Audience, MenuEntry, page, perform, render

from .. import export, ingest, services, webhooks
from ..models import Batch, Project, Webhook, WebhookDelivery
from .project_forms import ADVANCED_KEYS, ProjectForm, ProjectPayForm, UploadForm, WebhookForm

PROJECTS_PER_PAGE = 25
BATCHES_SHOWN = 20
DELIVERIES_SHOWN = 20
# What a person can start or stop from the project page; the services know the rest.
TRANSITIONS = {"activate": "Activate", "pause": "Pause"}
EXPORT_VIEWS = {
    "raw": "every annotation, with pseudonymous experts and review outcomes",
    "consensus": "one row per item with the agreed answer and its confidence",
    "sft": "chat rows of accepted text answers, for supervised fine-tuning",
    "dpo": "prompt, chosen and rejected completions, for preference training",
}


def visible_project(request: HttpRequest, project_id: int) -> Project:
    return get_object_or_404(Project.objects.visible_to(request.user)
                             .select_related("organization", "domain__parent"), pk=project_id)


def visible_batches(user) -> QuerySet[Batch]:
    return Batch.objects.filter(project__in=Project.objects.visible_to(user))


def _share(counts: dict[str, int]) -> dict[str, float]:
    """The percentages of a project's items that are complete and in progress."""
    return {name: (100 * counts[name] / counts["items"] if counts["items"] else 0)
            for name in ("complete", "in_progress")}


@page(Audience.CUSTOMER, Audience.STAFF)
def project_list(request: HttpRequest) -> HttpResponse:
    """The projects of the user's own organizations (an operator's too: the admin lists
    every organization's), filtered by organization and status, each with its progress
    counted for the whole page at once."""
    organizations = list(Organization.objects.visible_to(request.user).filter(
        memberships__user=request.user))
    projects = (Project.objects.visible_to(request.user)
                .filter(organization__in=organizations)
                .select_related("organization", "domain"))
    chosen = {"organization": request.GET.get("organization", ""),
              "status": request.GET.get("status", "")}
    organization_id = parse_id(chosen["organization"])
    if organization_id is not None:
        projects = projects.filter(organization_id=organization_id)
    if chosen["status"] in Project.Status.values:
        projects = projects.filter(status=chosen["status"])
    listed = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    counts = services.progress_of(project.pk for project in listed)
    rows = [(project, counts[project.pk], _share(counts[project.pk])) for project in listed]
    return render(request, "tasks/web/project_list.html", {
        "rows": rows, "page_obj": listed, "organizations": organizations,
        "statuses": Project.Status.choices, "chosen": chosen,
        "may_create": any(organization.role in access.ROLES_FOR[Action.EDIT_PROJECTS]
                          for organization in organizations),
    }, title="Projects")


def _create_project(**values) -> Project:
    """Create the project, with the schema's complaints about fields and questions put next
    to the advanced JSON they came from."""
    try:
        return services.create_project(**values)
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        errors: dict[str, list[str]] = {}
        for name, messages in exc.message_dict.items():
            field = "advanced" if name in ADVANCED_KEYS else name
            errors.setdefault(field, []).extend(
                f"{name}: {message}" if field != name else message for message in messages)
        raise ValidationError(errors) from exc


@page(Audience.CUSTOMER, Audience.STAFF)
def project_new(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        values = dict(form.cleaned_data)
        values.update(values.pop("advanced"))
        project = perform(request, _create_project, user=request.user, form=form,
                          success="The project was created. Upload its first batch of items.",
                          **values)
        if project:
            return redirect("workspace:project", project_id=project.pk)
    return render(request, "tasks/web/project_new.html", {"form": form}, title="New project")


def _project_page(request: HttpRequest, project: Project, *, upload: UploadForm | None = None,
                  row_errors: list[dict] | None = None) -> HttpResponse:
    counts = services.progress_of([project.pk])[project.pk]
    may_edit = access.may(request.user, Action.EDIT_PROJECTS, project.organization_id)
    exports = [{"name": name, "description": description,
                "unavailable": export.unavailable(project, name)}
               for name, description in EXPORT_VIEWS.items() if name in export.VIEWS]
    return render(request, "tasks/web/project_detail.html", {
        "project": project, "progress": counts, "share": _share(counts),
        "batches": project.batches.order_by("-id")[:BATCHES_SHOWN],
        "transitions": [(action, label) for action, label in TRANSITIONS.items()
                        if project.status in services.TRANSITIONS[action][0]],
        "may_edit": may_edit,
        "may_manage": access.may(request.user, Action.MANAGE, project.organization_id),
        "upload": upload or UploadForm(), "row_errors": row_errors or [],
        "exports": exports, "formats": sorted(export.FORMATS),
    }, title=project.name)


@page(Audience.CUSTOMER, Audience.STAFF)
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    return _project_page(request, visible_project(request, project_id))


@page(Audience.CUSTOMER, Audience.STAFF)
def project_pay(request: HttpRequest, project_id: int) -> HttpResponse:
    """The contract, its price, the weekly cap and the customer's time estimate."""
    project = visible_project(request, project_id)
    form = ProjectPayForm.of(project, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        changed = perform(request, services.update_project, user=request.user, project=project,
                          form=form, success="Pay and time settings saved.", **form.changes())
        if changed:
            return redirect("workspace:project", project_id=project.pk)
    return render(request, "tasks/web/project_pay.html", {"project": project, "form": form},
                  title=f"{project.name}: pay and time")


@require_POST
@page(Audience.CUSTOMER, Audience.STAFF)
def project_transition(request: HttpRequest, project_id: int) -> HttpResponse:
    project = visible_project(request, project_id)
    action = request.POST.get("action", "")
    if action in TRANSITIONS:
        perform(request, services.transition_project, user=request.user, project=project,
                action=action, success=f"The project is {services.TRANSITIONS[action][1]}.")
    return redirect("workspace:project", project_id=project.pk)


@require_POST
@page(Audience.CUSTOMER, Audience.STAFF)
def project_upload(request: HttpRequest, project_id: int) -> HttpResponse:
    """Store a file of items through the same ingest as the API: all of it or none. A file
    too large for the request goes to the background and its page shows the progress."""
    project = visible_project(request, project_id)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _project_page(request, project, upload=form)
    upload = form.cleaned_data["file"]
    upload.seek(0)
    try:
        batch = perform(request, ingest.upload, user=request.user, project=project,
                        stream=upload, file_format=ingest.format_of(upload.name),
                        filename=upload.name)
    except ingest.UploadRejected as rejected:
        form.add_error("file", "Nothing was stored: the file has bad rows, listed above.")
        return _project_page(request, project, upload=form, row_errors=rejected.errors)
    if not batch:
        return _project_page(request, project, upload=form)
    return redirect("workspace:batch", batch_id=batch.pk)


@page(Audience.CUSTOMER, Audience.STAFF)
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(visible_batches(request.user).select_related("project"),
                              pk=batch_id)
    return render(request, "tasks/web/project_batch.html", {
        "batch": batch, "project": batch.project,
        "finished": batch.status in ingest.FINISHED,
        "in_background": ingest.answered_in_background(batch),
    }, title=f"Batch {batch.pk}")


@page(Audience.CUSTOMER, Audience.STAFF)
def batch_progress(request: HttpRequest, batch_id: int) -> JsonResponse:
    """What the batch page polls while a background ingest runs."""
    batch = get_object_or_404(visible_batches(request.user), pk=batch_id)
    return JsonResponse({"status": batch.status, "status_label": batch.get_status_display(),
                         "rows": batch.rows, "created": batch.created,
                         "existing": batch.existing,
                         "finished": batch.status in ingest.FINISHED})


@page(Audience.CUSTOMER, Audience.STAFF)
def project_export(request: HttpRequest, project_id: int, view: str,
                   file_format: str) -> HttpResponse:
    """A dataset file, streamed by the same export code as the API's."""
    project = visible_project(request, project_id)
    try:
        download = export.download(project, view, file_format)
    except export.ExportUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("workspace:project", project_id=project.pk)
    response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response


@page(Audience.CUSTOMER, Audience.STAFF)
def project_webhooks(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's webhooks with how their deliveries went; owners and admins add, test
    and remove them. A new webhook's signing secret is shown once, on the answer to its
    creation."""
    project = visible_project(request, project_id)
    may_manage = access.may(request.user, Action.MANAGE, project.organization_id)
    if request.method == "POST" and not may_manage:
        raise PermissionDenied(access.REFUSALS[Action.MANAGE])
    form = WebhookForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        created = perform(request, webhooks.create_webhook, user=request.user,
                          project=project, form=form, **form.cleaned_data)
        if created:
            form = WebhookForm()
    statuses = WebhookDelivery.Status
    hooks = project.webhooks.order_by("id").annotate(
        succeeded=Count("deliveries", filter=Q(deliveries__status=statuses.SUCCEEDED)),
        pending=Count("deliveries", filter=Q(deliveries__status=statuses.PENDING)),
        failed=Count("deliveries", filter=Q(deliveries__status=statuses.FAILED)))
    deliveries = (WebhookDelivery.objects.filter(webhook__project=project)
                  .select_related("webhook").order_by("-id")[:DELIVERIES_SHOWN])
    return render(request, "tasks/web/project_webhooks.html", {
        "project": project, "webhooks": hooks, "deliveries": deliveries, "form": form,
        "may_manage": may_manage, "created": created,
    }, title=f"Webhooks of {project.name}")


def _visible_webhook(request: HttpRequest, webhook_id: int) -> Webhook:
    return get_object_or_404(Webhook.objects.filter(
        project__in=Project.objects.visible_to(request.user))
        .select_related("project__organization"), pk=webhook_id)


@require_POST
@page(Audience.CUSTOMER, Audience.STAFF)
def webhook_delete(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = _visible_webhook(request, webhook_id)
    perform(request, webhooks.delete_webhook, user=request.user, webhook=webhook,
            success=f"The webhook to {webhook.url} was removed.")
    return redirect("workspace:project-webhooks", project_id=webhook.project_id)


@require_POST
@page(Audience.CUSTOMER, Audience.STAFF)
def webhook_ping(request: HttpRequest, webhook_id: int) -> HttpResponse:
    webhook = _visible_webhook(request, webhook_id)
    perform(request, webhooks.send_ping, user=request.user, webhook=webhook,
            success="A ping was queued; its delivery appears below.")
    return redirect("workspace:project-webhooks", project_id=webhook.project_id)


urlpatterns = [
    path("projects/", project_list, name="projects"),
    path("projects/new/", project_new, name="project-new"),
    path("projects/<int:project_id>/", project_detail, name="project"),
    path("projects/<int:project_id>/status/", project_transition, name="project-transition"),
    path("projects/<int:project_id>/pay/", project_pay, name="project-pay"),
    path("projects/<int:project_id>/batches/", project_upload, name="project-upload"),
    path("projects/<int:project_id>/export/<slug:view>.<slug:file_format>", project_export,
         name="project-export"),
    path("projects/<int:project_id>/webhooks/", project_webhooks, name="project-webhooks"),
    path("webhooks/<int:webhook_id>/delete/", webhook_delete, name="webhook-delete"),
    path("webhooks/<int:webhook_id>/ping/", webhook_ping, name="webhook-ping"),
    path("batches/<int:batch_id>/", batch_detail, name="batch"),
    path("batches/<int:batch_id>/progress/", batch_progress, name="batch-progress"),
]
menu = [
    MenuEntry("Projects", "workspace:projects", Audience.CUSTOMER,
              "Your organizations' projects: progress, uploads, exports and webhooks.", 20),
]
