"""The browser workspace at ``/workspace/``: one door for every active user, built on Django's
admin machinery (login, logout, password change, CSRF, messages, the admin's stylesheets)
without being the operators' admin.

Each app contributes its pages from a ``web`` package: ``<app>/web/urls.py`` holds
``urlpatterns`` of views decorated with :func:`page` (or :func:`public_page` for the few a
visitor without an account needs) and a ``menu`` of :class:`MenuEntry` naming who each page
is for. The site collects them in the order of INSTALLED_APPS, so no app imports another's
pages. Views stay thin: they read through the access policy (``accounts.access`` and the
models' ``visible_to`` QuerySets) and change things only through services, whose refusals
:func:`perform` turns into messages or form errors instead of error pages.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, wraps
from importlib import import_module
from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from accounts import access
from config.exceptions import Conflict, PayloadTooLarge


class Audience(StrEnum):
    """Who a page is for; one user may be several at once."""

    EXPERT = "expert"
    CUSTOMER = "customer"
    REVIEWER = "reviewer"
    STAFF = "staff"


AUDIENCE_TITLES = {
    Audience.EXPERT: "Your work",
    Audience.REVIEWER: "Quality",
    Audience.CUSTOMER: "Your organization",
    Audience.STAFF: "Operations",
}


def audiences(user) -> set[Audience]:
    if not (user.is_authenticated and user.is_active):
        return set()
    found = set()
    if access.is_expert(user):
        found.add(Audience.EXPERT)
    roles = access.roles(user)
    if roles:
        found.add(Audience.CUSTOMER)
    if user.is_staff or roles & access.ROLES_FOR[access.Action.REVIEW]:
        found.add(Audience.REVIEWER)
    if user.is_staff:
        found.add(Audience.STAFF)
    return found


@dataclass(frozen=True)
class MenuEntry:
    """A link in the workspace's header and on its home page."""

    label: str
    url_name: str
    audience: Audience
    description: str = ""
    order: int = 100


class WorkspaceSite(admin.AdminSite):
    site_header = "Annomarket workspace"
    site_title = "Annomarket"
    index_title = "Home"
    site_url = None
    enable_nav_sidebar = False
    final_catch_all_view = False
    login_form = AuthenticationForm
    login_template = "workspace/login.html"
    index_template = "workspace/index.html"

    def has_permission(self, request: HttpRequest) -> bool:
        """Every active user may enter; what they see inside depends on their roles."""
        return request.user.is_active and request.user.is_authenticated

    def _web_modules(self) -> list[Any]:
        found = []
        for config in apps.get_app_configs():
            name = f"{config.name}.web.urls"
            try:
                found.append(import_module(name))
            except ModuleNotFoundError as exc:
                if exc.name not in {name, f"{config.name}.web"}:
                    raise
        return found

    def get_urls(self) -> list[URLPattern | URLResolver]:
        pages: list[URLPattern | URLResolver] = []
        for module in self._web_modules():
            pages += module.urlpatterns
        return pages + super().get_urls()

    @cached_property
    def menu(self) -> list[MenuEntry]:
        entries = [entry for module in self._web_modules() for entry in module.menu]
        return sorted(entries, key=lambda entry: (entry.order, entry.label))

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        mine = audiences(request.user)
        context["audiences"] = mine
        context["menu"] = [entry for entry in self.menu if entry.audience in mine]
        return context

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        context = self.each_context(request)
        context["sections"] = [
            {"title": AUDIENCE_TITLES[audience],
             "entries": [e for e in context["menu"] if e.audience == audience]}
            for audience in Audience if audience in context["audiences"]]
        context["title"] = self.index_title
        context.update(extra_context or {})
        request.current_app = self.name
        return TemplateResponse(request, self.index_template, context)


site = WorkspaceSite(name="workspace")


def page(*audience: Audience) -> Callable:
    """Make a view a workspace page: sign-in required, CSRF-checked, never cached, and,
    when audiences are given, refused to users who are of none of them."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def inner(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            request.current_app = site.name
            if audience and not set(audience) & audiences(request.user):
                names = " and ".join(f"{each.value}s" for each in audience)
                raise PermissionDenied(f"This page is for {names}.")
            return view(request, *args, **kwargs)

        return site.admin_view(inner)

    return decorate


def public_page(view: Callable) -> Callable:
    """A workspace page for visitors without an account (sign-up)."""

    @wraps(view)
    def inner(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        request.current_app = site.name
        return view(request, *args, **kwargs)

    return never_cache(csrf_protect(inner))


def render(request: HttpRequest, template: str, context: dict | None = None, *,
           title: str, status: int = 200) -> TemplateResponse:
    """A page in the workspace's frame, with its header, menu and messages."""
    full = site.each_context(request)
    full["title"] = title
    full.update(context or {})
    return TemplateResponse(request, template, full, status=status)


class Failed:
    """What :func:`perform` returns when the service refused; falsy."""

    def __bool__(self) -> bool:
        return False


FAILED = Failed()


def perform(request: HttpRequest, service: Callable, /, *args, form: Form | None = None,
            success: str = "", **kwargs) -> Any:
    """Call a service for a page. Its refusal (bad input, a role that may not, a state that
    forbids it) becomes form errors or an error message, and :data:`FAILED` is returned, so
    that the page shows it again with the reason instead of an error page."""
    try:
        result = service(*args, **kwargs)
    except ValidationError as exc:
        if form is not None and hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        elif form is not None:
            form.add_error(None, exc)
        else:
            for message in exc.messages:
                messages.error(request, message)
        return FAILED
    except (PermissionDenied, Conflict, PayloadTooLarge) as exc:
        text = getattr(exc, "message", None) or str(exc) or "This is not allowed."
        if form is not None:
            form.add_error(None, text)
        else:
            messages.error(request, text)
        return FAILED
    if success:
        messages.success(request, success)
    return result


