"""Response headers that keep patient data out of browser caches."""


class NoStoreForSignedInUsersMiddleware:
    """After logout, the back button must not show a page with patient data from the cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response["Cache-Control"] = "no-store, private"
        return response
