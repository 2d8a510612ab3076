"""Imports every domain's models so that Base.metadata knows all tables (migrations, tests)."""

from healthgate.access import models as access_models  # noqa: F401
from healthgate.alliance import models as alliance_models  # noqa: F401
from healthgate.audit import models as audit_models  # noqa: F401
from healthgate.catalogue import models as catalogue_models  # noqa: F401
from healthgate.federation import models as federation_models  # noqa: F401
from healthgate.identity import models as identity_models  # noqa: F401
from healthgate.identity import throttle as identity_throttle  # noqa: F401
from healthgate.outbox import models as outbox_models  # noqa: F401
from healthgate.register import models as register_models  # noqa: F401
from healthgate.search import models as search_models  # noqa: F401
