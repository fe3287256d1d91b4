"""HL7 FHIR R4: the app's question sets, screenings and decisions as resources an EHR reads.

- ``vocabulary``: the code systems, extensions and the few LOINC codes we are sure of;
- ``conditions``: show-when expressions as ``enableWhen`` or FHIRPath, and back;
- ``export``: pure builders, plain data in, FHIR JSON (dicts) out;
- ``records``: the database read that gives ``export`` its plain data;
- ``models`` and ``tokens``: per-client API tokens; ``api`` and ``urls``: the read-only API;
  ``download``: the staff screening page's Bundle file;
- ``importer``: a FHIR Questionnaire into a new draft version, with a report;
- ``admin``: issuing and revoking tokens, and the import action, in the Django admin.
"""
