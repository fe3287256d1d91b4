"""Log in, log out, home, and accepting an invitation: the pages everyone passes through."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ..forms import SetPasswordForm
from ..models import User
from ..services import InvitationInvalid, accept_invitation, find_usable_invitation


@login_required
def home(request):
    if request.user.is_clinic_staff:
        return redirect("staff:home")
    return redirect("patient:home")


@require_http_methods(["GET", "POST"])
def accept_invitation_view(request, token: str):
    try:
        invitation = find_usable_invitation(token)
    except InvitationInvalid:
        return render(request, "accounts/invitation_invalid.html", status=404)
    provisional_user = User(email=invitation.email, full_name=invitation.full_name)
    form = SetPasswordForm(
        request.POST if request.method == "POST" else None, user=provisional_user
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = accept_invitation(token=token, password=form.cleaned_data["password2"])
        except InvitationInvalid:
            return render(request, "accounts/invitation_invalid.html", status=404)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Your account is ready. You can start your questionnaire now.")
        return redirect("patient:home")
    return render(
        request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation}
    )
