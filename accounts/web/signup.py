"""Sign-up pages for experts and customers, for visitors without an account.

They hold the API's rules (the forms mirror its serializers, the services are the same) and
its rate: each address may post the sign-up forms as often per period as the API's
``signup`` throttle allows, counted in the default cache.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from config.workspace import FAILED, perform, public_page, render

from .. import services
from .forms import CustomerSignupForm, ExpertSignupForm

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
BACKEND = "django.contrib.auth.backends.ModelBackend"
EXPERT_NEXT_STEPS = (
    "Welcome! An operator will verify your account; you will see the result on your profile. "
    "Meanwhile, complete your profile, add your credentials with their evidence, and take "
    "the qualification test of your domains once verified.")
CUSTOMER_NEXT_STEPS = (
    "Welcome! Your organization is ready and you are its owner: create a project, upload "
    "its items, fund it, and invite your QA leads and members.")


def signup_rate() -> tuple[int, int]:
    """The API's signup rate (``THROTTLE_SIGNUP``, e.g. ``20/hour``) as (posts, seconds)."""
    count, period = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["signup"].split("/")
    return int(count), PERIODS[period[0]]


def over_signup_rate(request: HttpRequest) -> bool:
    """Count this address's sign-up post in a fixed window; True once it is over the rate."""
    allowed, seconds = signup_rate()
    key = f"workspace-signup:{request.META.get('REMOTE_ADDR', '')}"
    cache.add(key, 0, timeout=seconds)
    try:
        posts = cache.incr(key)
    except ValueError:
        # The window closed between add() and incr(); this post opens the next one.
        cache.set(key, 1, timeout=seconds)
        posts = 1
    return posts > allowed


def signup_page(request: HttpRequest, form_class: type, create, next_steps: str, *,
                title: str, kind: str) -> HttpResponse:
    form = form_class(request.POST or None)
    status = 200
    if request.method == "POST":
        if over_signup_rate(request):
            form.add_error(None, "Too many sign-ups from your address; please try again later.")
            status = 429
        elif form.is_valid():
            user = perform(request, create, form=form, **form.cleaned_data)
            if user is not FAILED:
                login(request, user, backend=BACKEND)
                messages.success(request, next_steps)
                return redirect("workspace:index")
    return render(request, "accounts/web/signup.html", {"form": form, "kind": kind},
                  title=title, status=status)


def create_expert(**data):
    return services.signup_expert(timezone_name=data.pop("timezone"), **data).user


def create_customer(*, organization: str, **data):
    return services.signup_customer(organization_name=organization, **data).user


@public_page
def signup_expert(request: HttpRequest) -> HttpResponse:
    return signup_page(request, ExpertSignupForm, create_expert, EXPERT_NEXT_STEPS,
                       title="Sign up as an expert", kind="expert")


@public_page
def signup_customer(request: HttpRequest) -> HttpResponse:
    return signup_page(request, CustomerSignupForm, create_customer, CUSTOMER_NEXT_STEPS,
                       title="Sign up as a customer", kind="customer")


urlpatterns = [
    path("signup/expert/", signup_expert, name="signup-expert"),
    path("signup/customer/", signup_customer, name="signup-customer"),
]
menu: list = []
