"""The ``procure`` command's side of the Open Contracting Data Standard: reading a file of any
size in constant memory (``reader.py``), sending it to the contracts service and writing an
export (``client.py``), and generated test data (``synthetic.py``). The shapes OCDS documents
come in are the kernel's (``procure_shared.ocds.shapes``, which the contracts service uses too);
the schema, merge and mappings are the contracts service's (``procure_contracts.ocds``)."""
