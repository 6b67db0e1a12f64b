"""The Open Contracting Data Standard (OCDS 1.1.5): its schemas with the extensions we use, read
from local files, and the shapes OCDS documents come in."""
