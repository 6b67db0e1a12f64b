"""The Open Contracting Data Standard (OCDS 1.1.5) feature, whole: what a change of ours
publishes, and what another publisher's data becomes here.

From the outside in:
- ``api.py``: ``/v1/ocds/releases`` and ``/v1/ocds/records/{ocid}``; ``import_api.py``:
  ``POST /v1/ocds/import``.
- ``exporting.py``: a page of releases, or a record, from the audit log (decision 16);
  ``importing.py``: one document validated, stored, compiled, mapped and written, each
  aggregate audited and evented (decision 17); ``suppliers.py``: a supplier found or registered
  in the providers registry (the port; ``clients/providers_http.py`` is the adapter).
- ``store.py``: the audit log read in commit order and what its changes refer to;
  ``releases.py``: the stored releases of imported processes.
- ``mapping_out.py``: a change as releases; ``mapping_in.py``: a compiled release as our
  aggregates, with ``reader.py`` reading wild data tolerantly and ``imported_events.py`` the
  events' data; ``merge.py``: the merge rules (decision 18); ``schema.py``: the schema with our
  extensions, and validation.

The command's side (reading a file in constant memory, sending it, writing an export) is
``procure_shared.ocds``; ``procure_shared.ocds.shapes`` tells documents apart for both."""
