"""The ``procure`` command's side of the Open Contracting Data Standard: reading a file of any
size in constant memory (``reader.py``), sending it to the contracts service and writing an
export (``client.py``), generated test data (``synthetic.py``), and the shapes OCDS documents
come in (``shapes.py``, also used by the contracts service). The schema, merge and mappings are
the contracts service's (``procure_contracts.ocds``)."""
