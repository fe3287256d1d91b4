"""The FHIR R4 API's URLs, included under /fhir/R4/ (namespace "fhir")."""

from django.urls import path, re_path

from . import api

app_name = "fhir"
urlpatterns = [
    path("metadata", api.metadata, name="metadata"),
    path("Questionnaire/<uuid:version_id>", api.questionnaire_read, name="questionnaire"),
    path("QuestionnaireResponse", api.response_search, name="response_search"),
    path("QuestionnaireResponse/<uuid:screening_id>", api.response_read, name="response"),
    path("Bundle/<uuid:screening_id>", api.bundle_read, name="bundle"),
    # Anything else under /fhir/R4/ answers as FHIR does: an OperationOutcome, not a page.
    re_path(r"^(?P<url>.*)$", api.unknown, name="unknown"),
]
