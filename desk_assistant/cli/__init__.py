"""The ``desk-assistant`` command line, a thin shell over the service facade."""
