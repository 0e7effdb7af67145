"""placeholder"""
import import_declare_test  # noqa: F401
from splunktaucclib.rest_handler.admin_external import AdminExternalHandler
class AccountHandler(AdminExternalHandler):
    pass
