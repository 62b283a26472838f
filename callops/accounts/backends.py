"""The sign-in backend: Django's ModelBackend, with the per-request user read written out.

Every dashboard request loads the signed-in user before anything else; the ORM spends longer
building that query than PostgreSQL takes to answer it (see callops.lib.rowsql). Sign-in,
permissions and the session-hash check are Django's own.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError

from callops.lib import rowsql


@rowsql.statement
def _user_sql() -> str:
    model = get_user_model()
    return (f"SELECT {rowsql.columns(model, 'u')} FROM {rowsql.q(model._meta.db_table)} u "
            f"WHERE u.{rowsql.q(model._meta.pk.column)} = %s")


class UserBackend(ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except (ValidationError, TypeError, ValueError):  # a session key that is not this model's
            return None
        rows = rowsql.fetch(_user_sql(), [pk])
        if not rows:
            return None
        user = rowsql.build(model, rows[0])
        return user if self.user_can_authenticate(user) else None
