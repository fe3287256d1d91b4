"""Staff pages: the start page (it sends each person to their first page) and patient
invitations. The review queue and screenings are in views.py."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from ..models import Invitation
from ..services.invitations import invite_patient
from .forms import InvitationForm

# Every staff page: a visitor gets the login page (login_required), anyone signed in without
# the permission 403 (raise_exception=True), never a second login page.


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Staff land on the queue, nurses on the sessions board, clinic admins on invitations;
    a patient gets 403."""
    if not request.user.is_clinic_staff:
        raise PermissionDenied
    if request.user.has_perm("screening.review_screening"):
        return redirect("staff:queue")
    if request.user.has_perm("screening.view_treatmentsession"):
        return redirect("staff:sessions")  # nurses
    return redirect("staff:invitations")


@login_required
@permission_required("screening.add_invitation", raise_exception=True)
@require_http_methods(["GET", "POST"])
def invitations(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        # The same work whether or not the address has an account: the worker decides which
        # email to send (an existing account is told to log in). The link goes only to the
        # patient's inbox: staff never hold a working link.
        invitation = invite_patient(
            full_name=form.cleaned_data["full_name"],
            email=form.cleaned_data["email"],
            created_by=request.user,
            language=form.cleaned_data["language"],
        )
        messages.success(
            request, gettext("Invitation sent to %(email)s.") % {"email": invitation.email}
        )
        return redirect("staff:invitations")
    recent = Invitation.objects.select_related("created_by").order_by("-created_at")[:50]
    return render(
        request,
        "staff/invitations.html",
        {"form": form, "invitations": recent, "valid_days": settings.INVITATION_VALID_DAYS},
    )
