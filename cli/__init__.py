"""provreg's command line: a Typer app, one module per noun.

Commands reach the registry through a backend: the services on the local database, or the HTTP
client when ``PROVREG_URL`` is set. :func:`cli.main.run` maps errors to messages and exit codes.
"""
