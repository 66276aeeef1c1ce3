from tests.ckan_server import ckan_server  # noqa
