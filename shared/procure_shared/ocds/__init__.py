"""The shapes OCDS documents come in (``shapes.py``): what the contracts service and the
``procure`` command (``procure_tools.ocds``) both need to tell a release package, a record
package, a record and a release apart."""
