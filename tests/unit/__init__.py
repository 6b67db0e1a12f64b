"""The fast unit layer: pure tests of each feature's rules and of the kernel's pure parts, with
no server, no database and no network. ``make check`` runs it first (a few seconds), then one
integration path of each feature (the tests marked ``check``)."""
